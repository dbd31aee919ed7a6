import logging
import re
import uuid
from pathlib import PurePath

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction

from separation import engine as audio_engine
from separation.services import job_enqueue
from tracks.models import Track

logger = logging.getLogger(__name__)

# The engine reports the container it decoded; we name the stored file after it.
_FORMAT_EXTENSIONS = {
    "wav": ".wav",
    "flac": ".flac",
    "mp3": ".mp3",
    "ogg": ".ogg",
    "vorbis": ".ogg",
    "opus": ".ogg",
    "m4a": ".m4a",
    "mp4": ".m4a",
    "aac": ".aac",
    "aiff": ".aiff",
    "aif": ".aiff",
}
_CONTROL_CHARS = re.compile(r"[\x00-\x1f\x7f]")


class TrackUploadError(ValueError):
    """An upload we refuse; the message is shown to the user as is."""


def track_title_from_filename(filename: str) -> str:
    """A display title from an uploaded file name: no directories, no control characters."""
    name = PurePath(filename.replace("\\", "/")).name
    title = _CONTROL_CHARS.sub("", PurePath(name).stem).strip(" .")
    return title[:200] or "Untitled"


def _stored_extension(audio_format: str, filename: str) -> str:
    # The engine may add the encoding after the container, e.g. "FLAC PCM_16".
    container = (audio_format or "").split(" ")[0].lower()
    extension = _FORMAT_EXTENSIONS.get(container)
    if extension:
        return extension
    suffix = PurePath(filename).suffix.lower()
    return suffix if suffix in _FORMAT_EXTENSIONS.values() else ".audio"


def track_upload(*, owner: AbstractBaseUser, upload: UploadedFile, title: str = "") -> Track:
    """Check an uploaded song, store it under a generated name and queue its separation.

    The upload is already on disk (LimitedTemporaryFileUploadHandler); the engine decodes it
    fully before anything is stored, and a failure after storing removes the stored file.
    """
    if not hasattr(upload, "temporary_file_path"):
        raise TrackUploadError("The upload did not arrive completely. Please try again.")
    temporary_path = upload.temporary_file_path()
    try:
        # Messages name the user's file, never our temporary copy.
        info = audio_engine.probe(temporary_path, name=PurePath(upload.name or "upload").name)
    except audio_engine.AudioError as exc:
        raise TrackUploadError(f"We could not read that file as audio: {exc}") from exc
    if info.duration_s > settings.JAM_MAX_DURATION_S:
        limit = round(settings.JAM_MAX_DURATION_S / 60, 1)
        raise TrackUploadError(f"That song is too long. The limit is {limit:g} minutes.")

    track_id = uuid.uuid4()
    extension = _stored_extension(info.format, upload.name or "")
    stored_name = default_storage.save(f"tracks/{track_id}/original{extension}", upload)
    try:
        with transaction.atomic():
            track = Track.objects.create(
                id=track_id,
                owner=owner,
                title=(title or "").strip()[:200] or track_title_from_filename(upload.name or ""),
                original_filename=(upload.name or "")[:255],
                original=stored_name,
                size_bytes=upload.size,
                duration_s=info.duration_s,
                sample_rate=info.sample_rate,
                channels=info.channels,
                audio_format=(info.format or "")[:16],
            )
            job_enqueue(track=track)
    except BaseException:
        default_storage.delete(stored_name)
        raise
    logger.info("Track %s uploaded by user %s", track.id, owner.pk)
    return track


def track_rename(*, track: Track, title: str) -> Track:
    track.title = title.strip()[:200]
    track.save(update_fields=("title",))
    return track


def track_delete(*, track: Track) -> None:
    """Delete a track, its job and, once that is committed, every file it owns."""
    names = track.stored_names
    track.delete()
    transaction.on_commit(lambda: storage_delete_quietly(names=names))


def track_sweep_unreferenced_files(*, track_id) -> list[str]:
    """Delete files under the track's folder that its row does not point to.

    A worker that died between storing a run's stems and recording them leaves such files;
    recovery calls this before the job is queued again. Returns the deleted names.
    """
    track = Track.objects.filter(id=track_id).first()
    if track is None:
        return []
    folder = f"tracks/{track.id}"
    try:
        _, files = default_storage.listdir(folder)
    except FileNotFoundError:
        return []
    keep = set(track.stored_names)
    orphans = [f"{folder}/{name}" for name in files if f"{folder}/{name}" not in keep]
    storage_delete_quietly(names=orphans)
    return orphans


def storage_delete_quietly(*, names: list[str]) -> None:
    for name in names:
        try:
            default_storage.delete(name)
        except OSError:
            logger.warning("Could not delete stored file %s", name, exc_info=True)
