import logging
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePath

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction

from separation import engine as audio_engine
from tracks import files
from tracks.models import ORIGINAL_PART, Asset, Track

logger = logging.getLogger(__name__)

_CONTROL_CHARS = re.compile(r"[\x00-\x1f\x7f]")


class TrackUploadError(ValueError):
    """An upload we refuse; the message is shown to the user as is."""


def track_title_from_filename(filename: str) -> str:
    """A display title from an uploaded file name: no directories, no control characters."""
    name = PurePath(filename.replace("\\", "/")).name
    title = _CONTROL_CHARS.sub("", PurePath(name).stem).strip(" .")
    return title[:200] or "Untitled"


def audio_limits() -> audio_engine.Limits:
    """What one song may make the engine decode (the upload's header check, the worker)."""
    return audio_engine.Limits(
        max_duration_s=settings.JAM_MAX_DURATION_S,
        max_sample_rate=settings.JAM_MAX_SAMPLE_RATE,
        max_samples=settings.JAM_MAX_DECODED_SAMPLES,
    )


def track_upload(
    *,
    owner: AbstractBaseUser,
    upload: UploadedFile,
    title: str = "",
    then: Callable[[Track], object] | None = None,
) -> Track:
    """Check an uploaded song, store it under a generated name and create its track.

    The upload is already on disk (LimitedTemporaryFileUploadHandler); the engine reads its
    header (no decode) and checks it against the limits before anything is stored; the
    worker's full decode finds what only decoding can (damage, truncation, silence).
    ``then(track)`` runs in the same transaction (the caller queues the separation there);
    if it or anything else fails after storing, the stored file is deleted.
    """
    if not hasattr(upload, "temporary_file_path"):
        raise TrackUploadError("The upload did not arrive completely. Please try again.")
    temporary_path = upload.temporary_file_path()
    try:
        # Messages name the user's file, never our temporary copy.
        info = audio_engine.probe(
            temporary_path,
            scan=False,
            name=PurePath(upload.name or "upload").name,
            limits=audio_limits(),
        )
    except audio_engine.AudioLimitError as exc:
        raise TrackUploadError(f"That song is too long or too large to process: {exc}") from exc
    except audio_engine.AudioError as exc:
        raise TrackUploadError(f"We could not read that file as audio: {exc}") from exc

    track_id = uuid.uuid4()
    stored_name = files.save_upload(files.original_name(track_id, info.container), upload)
    try:
        with transaction.atomic():
            track = Track.objects.create(
                id=track_id,
                owner=owner,
                title=(title or "").strip()[:200] or track_title_from_filename(upload.name or ""),
                original_filename=(upload.name or "")[:255],
                size_bytes=upload.size,
                duration_s=info.duration_s,
                sample_rate=info.sample_rate,
                channels=info.channels,
                container=info.container[:16],
                codec=info.codec[:24],
            )
            Asset.objects.create(
                track=track, kind=Asset.Kind.ORIGINAL, name=stored_name, size_bytes=upload.size
            )
            if then is not None:
                then(track)
    except BaseException:
        # Only if the track did not make it: an error from a hook run after the commit
        # must not take the file from under a track that exists.
        if not Track.objects.filter(id=track_id).exists():
            files.delete_quietly([stored_name])
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
    track_id = track.id
    track.delete()

    def delete_files() -> None:
        files.delete_quietly(names)
        # Anything a run stored meanwhile, recorded or not: the folder is the track's alone.
        files.delete_quietly(files.stored_in_folder(track_id))

    transaction.on_commit(delete_files)


@dataclass(frozen=True)
class StoredOutput:
    """A file one separation run stored, not yet recorded on its track."""

    kind: str  # Asset.Kind.STEM or Asset.Kind.WAVEFORM
    stem: str  # the stem it is or draws; "" for the original's waveform
    name: str
    size_bytes: int


def track_store_outputs(
    *, track_id, stems: dict[str, Path], waveforms: dict[str, Path]
) -> list[StoredOutput]:
    """Store one run's stems and waveform pictures under new names.

    ``waveforms`` is keyed by "" (the original) or a stem name. Nothing is recorded on the
    track yet (see `track_record_outputs`); on failure whatever was stored is deleted.
    """
    prefix = files.new_run_prefix(track_id)
    planned = [
        (Asset.Kind.STEM, stem, files.stem_name(prefix, stem), path) for stem, path in stems.items()
    ] + [
        (Asset.Kind.WAVEFORM, part, files.waveform_name(prefix, part or ORIGINAL_PART), path)
        for part, path in waveforms.items()
    ]
    stored: list[StoredOutput] = []
    try:
        for kind, stem, name, path in planned:
            saved = files.save_file(name, path)
            stored.append(StoredOutput(kind, stem, saved, path.stat().st_size))
    except BaseException:
        files.delete_quietly([output.name for output in stored])
        raise
    return stored


def track_record_outputs(*, track_id, job_id: int | None, outputs: list[StoredOutput]) -> None:
    """Make one run's stored files the track's current stems and waveforms, replacing any
    earlier ones (whose files go once this commits). Call inside the caller's transaction."""
    replaced = Asset.objects.filter(
        track_id=track_id, kind__in=(Asset.Kind.STEM, Asset.Kind.WAVEFORM)
    )
    old_names = list(replaced.values_list("name", flat=True))
    replaced.delete()
    Asset.objects.bulk_create(
        Asset(
            track_id=track_id,
            kind=output.kind,
            stem=output.stem,
            name=output.name,
            size_bytes=output.size_bytes,
            job_id=job_id,
        )
        for output in outputs
    )
    if old_names:
        transaction.on_commit(lambda: files.delete_quietly(old_names))


def track_sweep_unreferenced_files(*, track_id) -> list[str]:
    """Delete files under the track's folder that no asset of it names.

    A worker that died between storing a run's files and recording them leaves such files;
    recovery calls this before the job is queued again. Returns the deleted names.
    """
    if not Track.objects.filter(id=track_id).exists():
        return []
    keep = set(Asset.objects.filter(track_id=track_id).values_list("name", flat=True))
    orphans = [name for name in files.stored_in_folder(track_id) if name not in keep]
    if orphans:
        logger.warning("Deleting %d unrecorded file(s) of track %s", len(orphans), track_id)
        files.delete_quietly(orphans)
    return orphans
