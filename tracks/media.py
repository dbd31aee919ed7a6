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
from collections.abc import AsyncIterator, Callable, Iterator
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
from django.utils.text import slugify
from storages.backends.s3 import S3Storage

from catalog.formats import EXPORT_FORMATS

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


def safe_download_name(title: str, suffix: str, extension: str) -> str:
    """An ASCII file name built from a user's title: nothing a browser or shell can misread."""
    base = slugify(title)[:80] or "track"
    return f"{base}-{suffix}{extension}"


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


def stored_file_response(
    request: HttpRequest,
    name: str,
    *,
    download_name: str | None = None,
    still_allowed: Callable[[], bool] | None = None,
) -> HttpResponse:
    """Stream a stored file. Honours one `Range: bytes=a-b`; a download is an attachment.
    ``still_allowed`` is asked again every few seconds while it streams (see `Recheck`).
    On S3, a redirect to a short-lived signed URL instead (see `signed_redirect`)."""
    content_type = CONTENT_TYPES.get(PurePath(name).suffix.lower(), "application/octet-stream")
    if isinstance(default_storage, S3Storage):
        return signed_redirect(name, content_type=content_type, download_name=download_name)
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
        chunks(handle, start, length, still_allowed),
        status=206 if byte_range else 200,
        content_type=content_type,
    )
    if byte_range:
        response["Content-Range"] = f"bytes {start}-{end}/{size}"
    response["Content-Length"] = str(length)
    response["Accept-Ranges"] = "bytes"
    response["Cache-Control"] = "private, max-age=0"
    response["X-Content-Type-Options"] = "nosniff"
    if download_name:
        response["Content-Disposition"] = f'attachment; filename="{download_name}"'
    else:
        response["Content-Disposition"] = "inline"
    return response


def signed_redirect(name: str, *, content_type: str, download_name: str | None) -> HttpResponse:
    """302 to a presigned GET of the object, valid for the storage's `querystring_expire`
    seconds; the bucket answers Range requests itself. The URL asks the bucket for the same
    Content-Type and Content-Disposition we would send. Call it only after checking access:
    whoever holds the URL can read the object until it expires."""
    disposition = f'attachment; filename="{download_name}"' if download_name else "inline"
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
