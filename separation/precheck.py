"""The upload's refusals that need no body, answered from the request's head.

Django reads a request's whole body before any view runs, so a song over the owner's limits
(JAM_USER_MAX_ACTIVE_JOBS songs queued or separating, or a storage quota the file alone
overflows) used to be refused only after all of it had arrived (21 MB, 9.6 s in issue 21's
trial). `UploadPrecheck` wraps the http app: a POST to the upload page from a signed-in user
is checked first (`upload_precheck`, on the user's session cookie and Content-Length) and,
when it would be refused anyway, answered 400 with the form's message (JSON for
`Accept: application/json`, as the upload page's script asks) without reading a byte of its
body. Anything else, and every upload the check lets through, goes on as before: the view
checks everything again, under the lock on the owner.
"""

import html
import json
import logging
from collections.abc import Awaitable, Callable, MutableMapping
from http.cookies import SimpleCookie
from types import SimpleNamespace
from typing import Any

from asgiref.sync import sync_to_async
from django.conf import settings
from django.contrib.auth import get_user
from django.db import close_old_connections
from django.urls import reverse
from django.utils.module_loading import import_string

from separation.services.dispatch import upload_precheck
from tracks.services import TrackUploadError

logger = logging.getLogger(__name__)
Scope = MutableMapping[str, Any]
ASGIApp = Callable[..., Awaitable[None]]

# The multipart framing around the file (boundaries, part headers, the title): not counted
# against the quota, so the check refuses only what the file itself would overflow.
FRAMING_BYTES = 1024 * 1024


def _header(scope: Scope, name: bytes) -> bytes:
    return next((value for key, value in scope.get("headers", ()) if key.lower() == name), b"")


def _refusal(scope: Scope) -> str | None:
    """Why this upload will be refused, or None (not an upload, nobody signed in, or fine)."""
    cookie = SimpleCookie(_header(scope, b"cookie").decode("latin-1"))
    morsel = cookie.get(settings.SESSION_COOKIE_NAME)
    if morsel is None:
        return None
    store = import_string(f"{settings.SESSION_ENGINE}.SessionStore")
    close_old_connections()
    try:
        user = get_user(SimpleNamespace(session=store(morsel.value)))
        if not user.is_authenticated:
            return None
        length = _header(scope, b"content-length").strip()
        body = int(length) - FRAMING_BYTES if length.isdigit() else None
        upload_precheck(owner_id=user.pk, body_bytes=max(body, 0) if body else None)
    except TrackUploadError as exc:
        logger.info("Upload by user %s refused from its head: %s", user.pk, exc)
        return str(exc)
    finally:
        close_old_connections()
    return None


class UploadPrecheck:
    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive, send) -> None:
        is_upload = (
            scope["type"] == "http"
            and scope["method"] == "POST"
            and scope["path"] == reverse("separation:upload")
        )
        reason = await sync_to_async(_refusal)(scope) if is_upload else None
        if reason is None:
            await self.app(scope, receive, send)
            return
        if b"application/json" in _header(scope, b"accept"):
            body, content_type = json.dumps({"errors": [reason]}).encode(), b"application/json"
        else:
            page = (
                '<!doctype html><html lang="en"><head><meta charset="utf-8">'
                "<title>Upload refused · JamWithMe</title></head><body>"
                f"<h1>Upload refused</h1><p>{html.escape(reason)}</p>"
                f'<p><a href="{html.escape(reverse("tracks:library"))}">Your library</a></p>'
                "</body></html>"
            )
            body, content_type = page.encode(), b"text/html; charset=utf-8"
        headers = [
            (b"content-type", content_type),
            (b"content-length", str(len(body)).encode()),
            (b"connection", b"close"),  # the body is never read: no reuse
            (b"cache-control", b"no-store"),
        ]
        await send({"type": "http.response.start", "status": 400, "headers": headers})
        await send({"type": "http.response.body", "body": body})
