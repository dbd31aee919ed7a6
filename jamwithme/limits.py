"""A size limit on the whole HTTP request body, applied before anything buffers it.

Django reads the whole body (into a temporary file) before a view, a middleware or an
upload handler sees it, and its upload handlers limit each file, not the request.
`RequestBodyLimit` wraps the ASGI http app: a request whose Content-Length is over its limit
is answered 413 at once, without reading a byte of its body; a body without Content-Length
(chunked) is counted as it arrives and cut off, and answered 413, as soon as it passes it.

Which limit: every request gets the small ceiling, JAM_MAX_REQUEST_BYTES (1 MiB), unless
its route takes uploads (a view marked `tracks.uploads.takes_uploads`) and its session's
user may upload (`tracks.uploads.may_upload`, the rule the upload view itself applies);
then one file at the upload limit, plus slack. An unknown route, an anonymous requester, a
forged or stale session: the ceiling. The session is looked up only for a body that could
pass the ceiling on an upload route, so ordinary requests cost nothing more.
"""

import html
import json
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from importlib import import_module
from typing import Any

from channels.db import database_sync_to_async
from csp.utils import build_policy
from django.conf import settings
from django.contrib import auth
from django.http import HttpRequest
from django.http.cookie import parse_cookie
from django.template.defaultfilters import filesizeformat
from django.templatetags.static import static
from django.urls import Resolver404, resolve, reverse

from tracks.uploads import may_upload, takes_uploads

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


@dataclass(frozen=True)
class Limit:
    """How many body bytes a request may send, and what a 413 says when it sends more."""

    max_bytes: int
    message: str
    upload_link: bool = False  # the 413 page links to the upload page


def upload_limit() -> Limit:
    return Limit(max_request_bytes(), too_big_message(), upload_link=True)


def ceiling(*, upload_route: bool = False) -> Limit:
    size = filesizeformat(settings.JAM_MAX_REQUEST_BYTES)
    if upload_route:
        message = f"Sign in to upload songs. Without that, the limit is {size} per request."
    else:
        message = f"That request is too big. The limit is {size}."
    return Limit(settings.JAM_MAX_REQUEST_BYTES, message)


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


def _has_body(scope: Scope, declared: int | None) -> bool:
    if declared is not None:
        return declared > 0
    # No Content-Length: a body only if the server frames one (Transfer-Encoding: chunked).
    return _header(scope, b"transfer-encoding") is not None


def _route_takes_uploads(scope: Scope) -> bool:
    path = scope["path"]
    root = scope.get("root_path", "")
    if root and path.startswith(root):
        path = path[len(root) :]
    try:
        match = resolve(path)
    except Resolver404:
        return False
    return takes_uploads(match.func)


def _session_key(scope: Scope) -> str | None:
    cookies = parse_cookie((_header(scope, b"cookie") or b"").decode("latin-1"))
    return cookies.get(settings.SESSION_COOKIE_NAME) or None


def _session_user(session_key: str):
    """The user a session signs in, as Django's auth middleware resolves it (an inactive or
    suspended account's session gives AnonymousUser)."""
    request = HttpRequest()
    engine = import_module(settings.SESSION_ENGINE)
    request.session = engine.SessionStore(session_key)
    return auth.get_user(request)


def _may_upload(session_key: str) -> bool:
    return may_upload(_session_user(session_key))


async def body_limit(scope: Scope) -> Limit:
    """The limit for this request (see the module's docstring)."""
    small = ceiling()
    declared = _content_length(scope)
    if not _has_body(scope, declared) or (declared is not None and declared <= small.max_bytes):
        return small  # nothing that could pass the ceiling: no route or session looked up
    if not _route_takes_uploads(scope):
        return small
    session_key = _session_key(scope)
    # The session's row and its user, read on a thread (its connection checked before and
    # after, as Channels does for a socket).
    if session_key is None or not await database_sync_to_async(_may_upload)(session_key):
        return ceiling(upload_route=True)
    return upload_limit()


def _wants_json(scope: Scope) -> bool:
    return b"application/json" in (_header(scope, b"accept") or b"")


def _too_big_response(scope: Scope, limit: Limit) -> tuple[bytes, bytes]:
    message = limit.message
    if _wants_json(scope):
        return json.dumps({"errors": [message]}).encode(), b"application/json"
    link = (
        f'<p><a href="{html.escape(reverse("separation:upload"))}">Upload another song</a></p>'
        if limit.upload_link
        else f'<p><a href="{html.escape(reverse("home"))}">Back to JamWithMe</a></p>'
    )
    title = "Upload too big" if limit.upload_link else "Request too big"
    page = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{title} · JamWithMe</title>"
        f'<link rel="stylesheet" href="{html.escape(static("css/app.css"))}"></head>'
        f"<body><main><h1>{title}</h1><p>{html.escape(message)}</p>{link}</main>"
        "</body></html>"
    )
    return page.encode(), b"text/html; charset=utf-8"


async def _send_too_big(scope: Scope, send: Send, limit: Limit) -> None:
    body, content_type = _too_big_response(scope, limit)
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
                # The site's policy, as django-csp sets it on Django's own responses.
                (b"content-security-policy", build_policy().encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class RequestBodyLimit:
    """ASGI middleware for the http app: 413 for a request body over `limit(scope)`."""

    def __init__(self, app: ASGIApp, *, limit: Callable[[Scope], Awaitable[Limit]] = body_limit):
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        chosen = await self.limit(scope)
        limit = chosen.max_bytes
        declared = _content_length(scope)
        if declared is not None and declared > limit:
            await _send_too_big(scope, send, chosen)
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
            await _send_too_big(scope, send, chosen)
