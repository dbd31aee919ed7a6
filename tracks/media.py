"""Serving private stored files in chunks, with single-range support so <audio> can seek.

Under ASGI the body is an async iterator that reads one chunk at a time in a worker thread:
Django would collect a synchronous iterator into a list first, so every play or seek would
read the whole file into memory. Under WSGI (and Django's test Client) it is a plain
generator. Either closes the file at the end, or when Django closes the response (also
when the client went away). Any Django storage works: files are opened with
`default_storage.open`.

On S3-compatible storage we do not stream at all: once the view has checked access, the
answer is a 302 to a URL signed for a short while (`querystring_expire`, from
JAM_S3_URL_EXPIRE_S), so the browser reads the bytes, and each Range, from the bucket itself.
(django-storages' own S3 file would download the whole object for every Range.) The price:
such a URL keeps working until it expires, also if access is revoked meanwhile.
"""

import re
import time
import unicodedata
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import PurePath
from typing import IO

from asgiref.sync import sync_to_async
from django.core.files.storage import default_storage
from django.core.handlers.asgi import ASGIRequest
from django.http import (
    HttpRequest,
    HttpResponse,
    HttpResponseRedirect,
    StreamingHttpResponse,
)
from django.utils.http import content_disposition_header
from django.utils.text import slugify
from storages.backends.s3 import S3Storage

from catalog.formats import EXPORT_FORMATS
from notifications.sessions import session_user

# By extension: uploads' containers (`tracks.files.CONTAINER_EXTENSIONS`), waveforms, peaks,
# and every export format's own (`catalog.formats`).
CONTENT_TYPES = {
    ".wav": "audio/wav",
    ".flac": "audio/flac",
    ".mp3": "audio/mpeg",
    ".ogg": "audio/ogg",
    ".m4a": "audio/mp4",
    ".aac": "audio/aac",
    ".aiff": "audio/aiff",
    ".png": "image/png",
    ".json": "application/json",
    **{fmt.extension: fmt.mime_type for fmt in EXPORT_FORMATS},
}
CHUNK = 256 * 1024
ACCESS_RECHECK_S = 2.0

# RFC 9110 §14.1.2: bytes=first-last, bytes=first-, bytes=-suffix (the unit is
# case-insensitive). A comma means several ranges, which we do not serve.
_RANGE = re.compile(r"bytes=([0-9]*)-([0-9]*)", re.IGNORECASE)


class Unsatisfiable(Exception):
    """A valid single range that selects nothing of the file: 416."""


# --- Download names ------------------------------------------------------------------------
# A downloaded file is named after the whole title, in any script ("Ночной город - vocals.wav"),
# sent as RFC 6266 says: `filename*=utf-8''…` (RFC 8187) for the name, after a plain ASCII
# `filename="…"` for clients that read only that. What could be misread is taken out first.
_TITLE_BYTES = 120  # of UTF-8: the whole name stays well under a file system's 255
# Path separators and what Windows refuses in a name; quotes become single ones.
_UNSAFE = str.maketrans(dict.fromkeys("/\\<>:|*", "-") | {'"': "'", "?": ""})
# Format characters that may stay: the joiners, which emoji and some scripts need. The
# others (bidirectional overrides that turn "gnp.exe" round, byte-order marks...) go.
_JOINERS = {"\u200c", "\u200d"}


def _safe_title(title: str) -> str:
    """The title as a file name's start: no control or format characters (line breaks
    included), no path separators or quotes, no dots or dashes to start it or dots to end
    it, whitespace made single spaces, at most `_TITLE_BYTES`; "track" if nothing is left."""
    kept = []
    for char in unicodedata.normalize("NFC", title):
        category = unicodedata.category(char)
        if category in ("Cc", "Zl", "Zp") or char.isspace():
            kept.append(" ")
        elif category != "Cf" or char in _JOINERS:
            kept.append(char)
    text = " ".join("".join(kept).translate(_UNSAFE).split())
    text = text.encode()[:_TITLE_BYTES].decode(errors="ignore")  # not mid-character
    return text.lstrip(" .-").rstrip(" .") or "track"


@dataclass(frozen=True)
class DownloadName:
    """The name a download is saved under: a user's title, what the file is ("vocals",
    "stems", an export's settings) and its extension (".wav")."""

    title: str
    what: str
    extension: str

    @property
    def whole(self) -> str:
        """The title whole, made safe: "Ночной город - vocals.wav". Also a zip's entries."""
        return f"{_safe_title(self.title)} - {self.what}{self.extension}"

    @property
    def ascii(self) -> str:
        """For clients that read only `filename`: the title's ASCII letters and digits
        ("so-danco-samba-vocals.wav"), or "track-vocals.wav" for a title with none."""
        return f"{slugify(self.title)[:80] or 'track'}-{self.what}{self.extension}"


def content_disposition(download: DownloadName | None) -> str:
    """The one place a Content-Disposition is made: "inline" to play, else an attachment
    with the whole name (Django's `content_disposition_header`), and the ASCII name first
    when the whole one needs `filename*`."""
    if download is None:
        return "inline"
    header = content_disposition_header(True, download.whole)
    if "filename*=" in header:
        header = header.replace("attachment; ", f'attachment; filename="{download.ascii}"; ', 1)
    return header


def parse_range(header: str, size: int) -> tuple[int, int] | None:
    """The (start, end) inclusive bytes one `Range` header asks for, as RFC 9110 says.

    None means "ignore it and send the whole file": a header that is not one syntactically
    valid `bytes=` range (another unit, several ranges, garbage), or an empty file.
    Raises Unsatisfiable for a valid single range that selects no byte of the file.
    """
    match = _RANGE.fullmatch(header.strip())
    if not match or size == 0:
        return None
    first, last = match.groups()
    if first == "" and last == "":
        return None  # "bytes=-" is no range at all
    if first == "":  # the last N bytes
        length = int(last)
        if length == 0:
            raise Unsatisfiable
        return max(size - length, 0), size - 1
    start = int(first)
    if last and int(last) < start:
        return None  # invalid, so ignored (§14.1.1)
    if start >= size:
        raise Unsatisfiable
    end = min(int(last), size - 1) if last else size - 1
    return start, end


class Recheck:
    """Asks ``still_allowed()`` again every ACCESS_RECHECK_S while a file streams, so a
    download in progress stops when the listener loses access (unshared, removed from the
    band, track hidden, account suspended). The stems zip (`practice.zipstream`) uses it too."""

    def __init__(self, still_allowed: Callable[[], bool] | None):
        self.still_allowed = still_allowed
        self.checked_at = time.monotonic()

    def due(self) -> bool:
        return (
            self.still_allowed is not None
            and time.monotonic() - self.checked_at >= ACCESS_RECHECK_S
        )

    def passed(self, allowed: bool) -> bool:
        self.checked_at = time.monotonic()
        return allowed


def iter_chunks(
    handle: IO[bytes], start: int, length: int, still_allowed: Callable[[], bool] | None = None
) -> Iterator[bytes]:
    """`length` bytes of `handle` from `start`, a chunk at a time; closes the handle. Stops
    early once ``still_allowed()`` (asked every few seconds) says no."""
    recheck = Recheck(still_allowed)
    try:
        handle.seek(start)
        remaining = length
        while remaining > 0:
            if recheck.due() and not recheck.passed(still_allowed()):
                break
            data = handle.read(min(CHUNK, remaining))
            if not data:
                break
            remaining -= len(data)
            yield data
    finally:
        handle.close()


class AsyncChunks:
    """The same for ASGI: an async iterator that reads each chunk in a worker thread, so
    neither the event loop nor Django's one thread for sync views waits on the disk (or S3).

    Django calls `close()` when the response is done, also when the client went away
    mid-stream (its ASGI handler cancels the send, then closes the response)."""

    def __init__(
        self,
        handle: IO[bytes],
        start: int,
        length: int,
        still_allowed: Callable[[], bool] | None = None,
    ):
        self.handle, self.start, self.length = handle, start, length
        self.still_allowed = still_allowed

    async def __aiter__(self) -> AsyncIterator[bytes]:
        def in_thread(function):
            return sync_to_async(function, thread_sensitive=False)

        recheck = Recheck(self.still_allowed)
        try:
            await in_thread(self.handle.seek)(self.start)
            remaining = self.length
            while remaining > 0:
                if recheck.due() and not recheck.passed(
                    await sync_to_async(self.still_allowed)()  # the database: Django's thread
                ):
                    break
                data = await in_thread(self.handle.read)(min(CHUNK, remaining))
                if not data:
                    break
                remaining -= len(data)
                yield data
        finally:
            self.close()

    def close(self) -> None:
        self.handle.close()


def while_signed_in(
    request: HttpRequest, still_allowed: Callable[[], bool] | None
) -> Callable[[], bool] | None:
    """``still_allowed``, and also: the request's session still logs its user in. A log-out
    (in another tab of the same browser), a new password or a suspension then ends a
    download in progress at the next re-check, as losing access does. A request that is not
    signed in (a share link) is judged by ``still_allowed`` alone."""
    if still_allowed is None or not request.user.is_authenticated:
        return still_allowed
    session_key, user_id = request.session.session_key, request.user.pk

    def check() -> bool:
        user = session_user(session_key)
        return user is not None and user.pk == user_id and still_allowed()

    return check


def stored_file_response(
    request: HttpRequest,
    name: str,
    *,
    download: DownloadName | None = None,
    still_allowed: Callable[[], bool] | None = None,
) -> HttpResponse:
    """Stream a stored file. Honours one `Range: bytes=a-b`; a download is an attachment.
    ``still_allowed`` is asked again every few seconds while it streams (see `Recheck`),
    with the session (`while_signed_in`).
    On S3, a redirect to a short-lived signed URL instead (see `signed_redirect`)."""
    content_type = CONTENT_TYPES.get(PurePath(name).suffix.lower(), "application/octet-stream")
    if isinstance(default_storage, S3Storage):
        return signed_redirect(name, content_type=content_type, download=download)
    size = default_storage.size(name)
    byte_range = None
    header = request.headers.get("Range", "")
    # We send no validators, so an If-Range can never match: then the whole file (§13.1.5).
    if header and request.method == "GET" and "If-Range" not in request.headers:
        try:
            byte_range = parse_range(header, size)
        except Unsatisfiable:
            response = HttpResponse(status=416)
            response["Content-Range"] = f"bytes */{size}"
            return response
    start, end = byte_range or (0, size - 1)
    length = end - start + 1
    handle = default_storage.open(name, "rb")
    chunks = AsyncChunks if isinstance(request, ASGIRequest) else iter_chunks
    response = StreamingHttpResponse(
        chunks(handle, start, length, while_signed_in(request, still_allowed)),
        status=206 if byte_range else 200,
        content_type=content_type,
    )
    if byte_range:
        response["Content-Range"] = f"bytes {start}-{end}/{size}"
    response["Content-Length"] = str(length)
    response["Accept-Ranges"] = "bytes"
    response["Cache-Control"] = "private, max-age=0"
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Disposition"] = content_disposition(download)
    return response


def signed_redirect(name: str, *, content_type: str, download: DownloadName | None) -> HttpResponse:
    """302 to a presigned GET of the object, valid for the storage's `querystring_expire`
    seconds; the bucket answers Range requests itself. The URL asks the bucket for the same
    Content-Type and Content-Disposition we would send. Call it only after checking access:
    whoever holds the URL can read the object until it expires."""
    disposition = content_disposition(download)
    url = default_storage.url(
        name,
        parameters={
            "ResponseContentType": content_type,
            "ResponseContentDisposition": disposition,
            "ResponseCacheControl": "private, max-age=0",
        },
    )
    response = HttpResponseRedirect(url)
    # Not kept by the browser or any cache: the next play asks us (and our access check) again.
    response["Cache-Control"] = "private, no-store"
    response["Referrer-Policy"] = "no-referrer"
    return response
