"""Where a track's files are stored: the one module that builds storage names, and the
helpers that save and delete them. Everything goes through Django's storage API, so the
same code runs on local files and on S3-compatible storage.

    tracks/<track id>/original.<ext>                  the upload
    tracks/<track id>/<run>-<stem>.wav                a stem from one separation run
    tracks/<track id>/<run>-waveform-<part>.png       a waveform ("original" or a stem)
    tracks/<track id>/<run>-render-<settings>.<fmt>   a rendition (practice: an export)
    tracks/<track id>/<run>-peaks-<part>.json         the same waveform's peaks, for the player

`<run>` is new for every run, so a worker that lost its claim can never overwrite the
files of the run that replaced it.
"""

import logging
import uuid
from collections.abc import Callable
from pathlib import Path

from django.core.files import File
from django.core.files.storage import default_storage

from catalog.formats import get_export_format
from tracks import direct

logger = logging.getLogger(__name__)

# The engine reports the container it decoded; we name the stored original after it.
CONTAINER_EXTENSIONS = {
    "wav": ".wav",
    "flac": ".flac",
    "mp3": ".mp3",
    "ogg": ".ogg",
    "m4a": ".m4a",
    "aac": ".aac",
    "aiff": ".aiff",
}


def track_folder(track_id) -> str:
    return f"tracks/{track_id}"


def original_name(track_id, container: str) -> str:
    extension = CONTAINER_EXTENSIONS.get(container, ".audio")
    return f"{track_folder(track_id)}/original{extension}"


def new_run_prefix(track_id) -> str:
    """The prefix for the files of one separation run."""
    return f"{track_folder(track_id)}/{uuid.uuid4().hex[:12]}"


STEM_EXTENSION = ".wav"  # stems are stored as WAV (the engine writes them)


def stem_name(prefix: str, stem: str) -> str:
    return f"{prefix}-{stem}{STEM_EXTENSION}"


def waveform_name(prefix: str, part: str) -> str:
    """``part`` is "original" or a stem name."""
    return f"{prefix}-waveform-{part}.png"


def rendition_name(track_id, settings_slug: str, fmt: str) -> str:
    """A rendered export: ``settings_slug`` names what it is ("mix-v10-t75-k+2"), ``fmt``
    its export format (`catalog.formats`), which gives the extension."""
    export_format = get_export_format(fmt)
    if export_format is None:
        raise ValueError(f"no rendition format {fmt!r}")
    return f"{new_run_prefix(track_id)}-render-{settings_slug}{export_format.extension}"


def peaks_name(prefix: str, part: str) -> str:
    """The player's waveform data of a part ("original" or a stem name)."""
    return f"{prefix}-peaks-{part}.json"


COPY_CHUNK = 1024 * 1024


def copy_to_local(name: str, local: Path, on_chunk: Callable[[], None]) -> Path:
    """Copy a stored file to ``local`` on this machine (the audio code needs a path; storage
    may be remote), calling ``on_chunk()`` after each chunk (a worker's heartbeat)."""
    with default_storage.open(name, "rb") as source, open(local, "wb") as target:
        while chunk := source.read(COPY_CHUNK):
            target.write(chunk)
            on_chunk()
    return local


class _ReadHook:
    """A binary file that calls ``on_read(bytes_read_so_far)`` before every read storage
    makes of it."""

    def __init__(self, handle, on_read: Callable[[int], None]) -> None:
        self._handle = handle
        self._on_read = on_read
        self.name = handle.name

    def read(self, size: int = -1) -> bytes:
        self._on_read(self._handle.tell())
        return self._handle.read(size)

    def __getattr__(self, attribute):
        return getattr(self._handle, attribute)


def save_file(name: str, path: Path, *, on_read: Callable[[int], None] | None = None) -> str:
    """Store a local file under ``name``; returns the name storage actually used.
    ``on_read(bytes_read_so_far)`` is called before each chunk storage reads (a long upload
    can report in)."""
    with open(path, "rb") as handle:
        content = _ReadHook(handle, on_read) if on_read is not None else handle
        try:
            return default_storage.save(name, File(content, name=str(path)))
        except BaseException:
            # A big file goes to a bucket as a multipart upload: abort ours, never leave it
            # incomplete (boto's transfer aborts too on most failures; the sweep gets the
            # rest, e.g. a worker killed mid-way).
            direct.abort_all_of(name)
            raise


def save_upload(name: str, upload) -> str:
    return default_storage.save(name, upload)


def delete(name: str) -> None:
    """Delete one stored file, or every file under a folder given with a trailing "/".
    Raises what storage raises; a name already gone is not an error."""
    if name.endswith("/"):
        folder = name.rstrip("/")
        for stored in _listed(folder):
            default_storage.delete(stored)
        _remove_empty_local_folder(folder)
    else:
        default_storage.delete(name)


def delete_quietly(names: list[str]) -> dict[str, str]:
    """Delete stored files; returns {name: reason} for each that could not be deleted (logged,
    never raised: storage can fail in any way, and the callers keep a record to retry)."""
    failed = {}
    for name in names:
        try:
            delete(name)
        except Exception as exc:  # local disk and S3 fail in different ways
            logger.warning("Could not delete stored file %s", name, exc_info=True)
            failed[name] = f"{type(exc).__name__}: {exc}"[:300]
    return failed


def folder_marker(track_id) -> str:
    """The name that stands for everything under a track's folder in `delete`."""
    return f"{track_folder(track_id)}/"


def _listed(folder: str) -> list[str]:
    try:
        _, names = default_storage.listdir(folder)
    except FileNotFoundError:
        return []
    return [f"{folder}/{name}" for name in names]


def _remove_empty_local_folder(folder: str) -> None:
    """On local disk a folder outlives its files; object stores have none to remove."""
    try:
        path = Path(default_storage.path(folder))
    except NotImplementedError:
        return
    try:
        path.rmdir()
    except FileNotFoundError:
        pass
    except OSError:
        logger.debug("Folder %s not removed (not empty?)", folder)


def stored_in_folder(track_id) -> list[str]:
    """Every name stored under the track's folder (empty when there is none)."""
    return _listed(track_folder(track_id))
