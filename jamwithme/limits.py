"""A size limit on the whole HTTP request body, applied before anything buffers it.

Django reads the whole body (into a temporary file) before a view or an upload handler sees
it, and its upload handlers limit each file, not the request. `RequestBodyLimit` wraps the
ASGI http app: a request whose Content-Length is over the limit is answered 413 at once,
without reading a byte of its body; a body without Content-Length (chunked) is counted as
it arrives and cut off, and answered 413, as soon as it passes the limit.
"""

import html
import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from django.conf import settings
from django.template.defaultfilters import filesizeformat
from django.urls import reverse

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

# Room over JAM_MAX_UPLOAD_BYTES for the multipart boundaries, part headers and the title.
REQUEST_SLACK_BYTES = 1024 * 1024


def max_request_bytes() -> int:
    """The largest request body accepted: one file at the upload limit, plus slack."""
    return settings.JAM_MAX_UPLOAD_BYTES + REQUEST_SLACK_BYTES


def too_big_message() -> str:
    return (
        f"That upload is too big. The limit is {filesizeformat(settings.JAM_MAX_UPLOAD_BYTES)}"
        " per upload."
    )


def _header(scope: Scope, name: bytes) -> bytes | None:
    for key, value in scope.get("headers", ()):
        if key.lower() == name:
            return value
    return None


def _content_length(scope: Scope) -> int | None:
    value = _header(scope, b"content-length")
    if value is None or not value.strip().isdigit():
        return None  # absent or malformed: the server frames the body; we count it
    return int(value)


def _wants_json(scope: Scope) -> bool:
    return b"application/json" in (_header(scope, b"accept") or b"")


def _too_big_response(scope: Scope) -> tuple[bytes, bytes]:
    message = too_big_message()
    if _wants_json(scope):
        return json.dumps({"errors": [message]}).encode(), b"application/json"
    page = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        "<title>Upload too big · JamWithMe</title></head>"
        '<body style="font-family: system-ui, sans-serif; max-width: 40rem; margin: 3rem auto">'
        f"<h1>Upload too big</h1><p>{html.escape(message)}</p>"
        f'<p><a href="{html.escape(reverse("separation:upload"))}">Upload another song</a></p>'
        "</body></html>"
    )
    return page.encode(), b"text/html; charset=utf-8"


async def _send_too_big(scope: Scope, send: Send) -> None:
    body, content_type = _too_big_response(scope)
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", content_type),
                (b"content-length", str(len(body)).encode()),
                # The rest of the body is never read: the connection cannot be reused.
                (b"connection", b"close"),
                (b"cache-control", b"no-store"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class RequestBodyLimit:
    """ASGI middleware for the http app: 413 for a request body over `max_bytes()`."""

    def __init__(self, app: ASGIApp, *, max_bytes: Callable[[], int] = max_request_bytes):
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.max_bytes()
        declared = _content_length(scope)
        if declared is not None and declared > limit:
            await _send_too_big(scope, send)
            return

        received = 0
        too_big = False
        response_started = False

        async def limited_receive() -> Message:
            nonlocal received, too_big
            if too_big:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    # Tell the app the client went away: Django drops what it read and
                    # returns without answering, and we answer for it.
                    too_big = True
                    return {"type": "http.disconnect"}
            return message

        async def watched_send(message: Message) -> None:
            nonlocal response_started
            if message["type"] == "http.response.start":
                response_started = True
            await send(message)

        await self.app(scope, limited_receive, watched_send)
        if too_big and not response_started:
            await _send_too_big(scope, send)
