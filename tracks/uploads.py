"""Upload handling: every file is streamed to a temporary file, never held in memory, and
the size limit is enforced while the bytes arrive. Who may upload, and which views take
uploads: the web process's body limit (jamwithme/limits.py) lets a body past its small
ceiling only for such a view and such a user."""

from collections.abc import Callable

from django.conf import settings
from django.core.files.uploadhandler import SkipFile, TemporaryFileUploadHandler

TAKES_UPLOADS = "jam_takes_uploads"


def may_upload(user) -> bool:
    """Signed in and active (a suspended account is inactive). The upload view's test, and
    the body limit's: one rule for both."""
    return user.is_authenticated and user.is_active


def upload_view(view: Callable) -> Callable:
    """Marks a view as taking uploads (outermost decorator): requests routed to it may send
    a body up to the upload limit when `may_upload` allows, not only the small ceiling."""
    setattr(view, TAKES_UPLOADS, True)
    return view


def takes_uploads(view: Callable) -> bool:
    return getattr(view, TAKES_UPLOADS, False)


class LimitedTemporaryFileUploadHandler(TemporaryFileUploadHandler):
    """A TemporaryFileUploadHandler that drops a file as soon as it grows past
    JAM_MAX_UPLOAD_BYTES and marks the request so the form can say why."""

    def new_file(self, *args, **kwargs):
        super().new_file(*args, **kwargs)
        self.received = 0

    def receive_data_chunk(self, raw_data, start):
        self.received += len(raw_data)
        if self.received > settings.JAM_MAX_UPLOAD_BYTES:
            if self.request is not None:
                self.request.upload_too_big = True
            # SkipFile closes (and so deletes) the temporary file and drains the rest.
            raise SkipFile
        return super().receive_data_chunk(raw_data, start)
