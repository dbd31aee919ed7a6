"""All of a track's stems as one zip, streamed: the archive is written a chunk at a time
into a small buffer that is handed to the client and emptied, so memory stays at one chunk
whatever the stems weigh. WAVs barely compress, so entries are stored, not deflated; sizes
come from the assets, so the zip needs no seeking (entries carry data descriptors, and zip64
where a stem passes 4 GiB). Under ASGI the body is an async iterator that reads in a worker
thread, as `tracks.media` does for single files (Django would collect a sync iterator whole).
Like every media response, the stream asks ``still_allowed()`` again every
`tracks.media.ACCESS_RECHECK_S` (`tracks.media.Recheck`) and stops once access is gone.
"""

import time
import zipfile
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import PurePath

from asgiref.sync import sync_to_async
from django.core.files.storage import default_storage
from django.core.handlers.asgi import ASGIRequest
from django.http import Http404, StreamingHttpResponse

from tracks.access import Access, downloadable_parts
from tracks.media import CHUNK, DownloadName, Recheck, content_disposition, while_signed_in
from tracks.models import Track


class _Sink:
    """A write-only, unseekable file: what zipfile writes piles up here until taken."""

    def __init__(self) -> None:
        self.pieces: list[bytes] = []
        self.offset = 0

    def write(self, data) -> int:
        self.pieces.append(bytes(data))
        self.offset += len(data)
        return len(data)

    def tell(self) -> int:
        return self.offset

    def flush(self) -> None:
        pass

    def take(self) -> bytes:
        data = b"".join(self.pieces)
        self.pieces.clear()
        return data


def zip_chunks(
    entries: list[tuple[str, str, int]], still_allowed: Callable[[], bool] | None = None
) -> Iterator[bytes]:
    """The zip of ``entries`` — (name in the archive, storage name, size) — in chunks. Stops
    early, leaving the archive unfinished, once ``still_allowed()`` (asked every few
    seconds) says no."""
    recheck = Recheck(still_allowed)
    sink = _Sink()
    archive = zipfile.ZipFile(sink, "w", compression=zipfile.ZIP_STORED)
    now = time.localtime()[:6]
    for arcname, name, size in entries:
        info = zipfile.ZipInfo(arcname, date_time=now)
        info.file_size = size
        with default_storage.open(name, "rb") as source, archive.open(info, "w") as entry:
            while data := source.read(CHUNK):
                if recheck.due() and not recheck.passed(still_allowed()):
                    return
                entry.write(data)
                yield sink.take()
        yield sink.take()
    archive.close()
    yield sink.take()


class _AsyncZip:
    """`zip_chunks` under ASGI: each chunk is made in a worker thread; the access re-check
    runs here, in Django's thread for the database (as `tracks.media.AsyncChunks` does)."""

    def __init__(self, chunks: Iterator[bytes], still_allowed: Callable[[], bool] | None):
        self.chunks = chunks
        self.still_allowed = still_allowed

    async def __aiter__(self) -> AsyncIterator[bytes]:
        step = sync_to_async(lambda: next(self.chunks, None), thread_sensitive=False)
        recheck = Recheck(self.still_allowed)
        while True:
            if recheck.due() and not recheck.passed(await sync_to_async(self.still_allowed)()):
                break
            data = await step()
            if data is None:
                break
            if data:
                yield data

    def close(self) -> None:
        self.chunks.close()


def stems_zip_response(
    request, track: Track, access: Access, still_allowed: Callable[[], bool] | None = None
) -> StreamingHttpResponse:
    """The stems ``access`` may hear, as WAVs in one zip named after the track. The stream
    stops once ``still_allowed()``, asked every few seconds, says no."""
    entries = []
    for part in downloadable_parts(track, access):  # the stems: the original is not one
        extension = PurePath(part.audio.name).suffix
        arcname = DownloadName(track.title, part.name, extension).whole
        entries.append((arcname, part.audio.name, part.audio.size_bytes))
    if not entries:
        raise Http404("This track has no stems yet.")
    still_allowed = while_signed_in(request, still_allowed)  # a log-out ends it too
    if isinstance(request, ASGIRequest):
        body = _AsyncZip(zip_chunks(entries), still_allowed)
    else:
        body = zip_chunks(entries, still_allowed)
    response = StreamingHttpResponse(body, content_type="application/zip")
    response["Content-Disposition"] = content_disposition(
        DownloadName(track.title, "stems", ".zip")
    )
    response["Cache-Control"] = "private, max-age=0"
    response["X-Content-Type-Options"] = "nosniff"
    return response
