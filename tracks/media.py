"""Serving private stored files, with single-range support so <audio> can seek."""

import re
from pathlib import PurePath

from django.core.files.storage import default_storage
from django.http import FileResponse, HttpRequest, HttpResponse, StreamingHttpResponse
from django.utils.text import slugify

CONTENT_TYPES = {
    ".wav": "audio/wav",
    ".flac": "audio/flac",
    ".mp3": "audio/mpeg",
    ".ogg": "audio/ogg",
    ".m4a": "audio/mp4",
    ".aac": "audio/aac",
    ".aiff": "audio/aiff",
    ".png": "image/png",
}
_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")
CHUNK = 64 * 1024


def safe_download_name(title: str, suffix: str, extension: str) -> str:
    """An ASCII file name built from a user's title: nothing a browser or shell can misread."""
    base = slugify(title)[:80] or "track"
    return f"{base}-{suffix}{extension}"


def _parse_range(header: str, size: int) -> tuple[int, int] | None:
    """(start, end) inclusive for one satisfiable `bytes=` range, else None."""
    match = _RANGE.match(header.strip())
    if not match or size == 0:
        return None
    first, last = match.groups()
    if first == "" and last == "":
        return None
    if first == "":  # the last N bytes
        length = int(last)
        if length == 0:
            return None
        return max(size - length, 0), size - 1
    start = int(first)
    end = min(int(last), size - 1) if last else size - 1
    if start > end or start >= size:
        return None
    return start, end


def _iter_range(handle, start: int, end: int):
    try:
        handle.seek(start)
        remaining = end - start + 1
        while remaining > 0:
            data = handle.read(min(CHUNK, remaining))
            if not data:
                break
            remaining -= len(data)
            yield data
    finally:
        handle.close()


def stored_file_response(
    request: HttpRequest, name: str, *, download_name: str | None = None
) -> HttpResponse:
    """Stream a stored file. Honours one `Range: bytes=a-b`; a download is an attachment."""
    content_type = CONTENT_TYPES.get(PurePath(name).suffix.lower(), "application/octet-stream")
    size = default_storage.size(name)
    handle = default_storage.open(name, "rb")
    header = request.headers.get("Range", "")
    if header and request.method == "GET":
        byte_range = _parse_range(header, size)
        if byte_range is None:
            handle.close()
            response = HttpResponse(status=416)
            response["Content-Range"] = f"bytes */{size}"
            return response
        start, end = byte_range
        response = StreamingHttpResponse(
            _iter_range(handle, start, end), status=206, content_type=content_type
        )
        response["Content-Range"] = f"bytes {start}-{end}/{size}"
        response["Content-Length"] = str(end - start + 1)
    else:
        response = FileResponse(handle, content_type=content_type)
        response["Content-Length"] = str(size)
    response["Accept-Ranges"] = "bytes"
    response["Cache-Control"] = "private, max-age=0"
    response["X-Content-Type-Options"] = "nosniff"
    if download_name:
        response["Content-Disposition"] = f'attachment; filename="{download_name}"'
    else:
        response["Content-Disposition"] = "inline"
    return response
