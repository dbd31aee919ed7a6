"""Upload handling: every file is streamed to a temporary file, never held in memory, and
the size limit is enforced while the bytes arrive."""

from django.conf import settings
from django.core.files.uploadhandler import SkipFile, TemporaryFileUploadHandler


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
