import logging
import mimetypes
import re
import tempfile
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from functools import partial
from pathlib import Path, PurePath

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.db.models import F
from django.template.defaultfilters import filesizeformat
from django.utils import timezone

import engine as audio_engine
from accounts.text import strip_bidi
from catalog.stems import STEMS
from tracks import direct, files
from tracks.access import track_audience
from tracks.events import track_created_publish, track_revoked_publish
from tracks.models import ORIGINAL_PART, Asset, DirectUpload, FileDeletion, Report, Track
from tracks.selectors import storage_use_for_user

logger = logging.getLogger(__name__)

_CONTROL_CHARS = re.compile(
    r"[\x00-\x1f\x7f\x85\u2028\u2029]"
)  # C0, DEL, NEL, line/para separators


class TrackUploadError(ValueError):
    """An upload we refuse; the message is shown to the user as is."""


class TrackStorageError(TrackUploadError):
    """Storage refused the upload (full, unwritable, unreachable): nothing was saved, and it
    is not the user's fault."""


ALLOWED_EXTENSIONS = (".wav", ".flac", ".mp3", ".ogg", ".oga", ".m4a", ".aac", ".aif", ".aiff")

STORAGE_FAILED = (
    "We could not store your file just now, so nothing was saved. Please try again later."
)


def clean_title(text: str) -> str:
    """A title as we keep it: no control characters (CR/LF included) nor bidi controls
    (which make "gnp.exe" show as "exe.png"), trimmed, ≤ 200."""
    return strip_bidi(_CONTROL_CHARS.sub("", text or "")).strip()[:200]


def track_title_from_filename(filename: str) -> str:
    """A display title from an uploaded file name: no directories, no control characters."""
    name = PurePath(filename.replace("\\", "/")).name
    return clean_title(PurePath(name).stem).strip(" .") or "Untitled"


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
    upload_key: uuid.UUID | None = None,
    then: Callable[[Track], object] | None = None,
) -> Track:
    """Check an uploaded song, store it under a generated name and create its track.

    The upload is already on disk (LimitedTemporaryFileUploadHandler); the engine reads its
    header (no decode) and checks it against the limits before anything is stored; the
    worker's full decode finds what only decoding can (damage, truncation, silence).
    ``then(track)`` runs in the same transaction (the caller queues the separation there);
    if it or anything else fails after storing, the stored file is deleted. An upload with
    the ``upload_key`` of a track the owner already has returns that track (a retry whose
    first answer was lost) and stores nothing.
    """
    existing = track_for_upload_key(owner_id=owner.pk, upload_key=upload_key)
    if existing is not None:
        return existing
    if not hasattr(upload, "temporary_file_path"):
        raise TrackUploadError("The upload did not arrive completely. Please try again.")
    info = _probe_upload(upload.temporary_file_path(), upload.name or "upload")
    stems = _stems_estimate(info)
    track_quota_check(owner_id=owner.pk, needed_bytes=upload.size + stems)  # before storing

    track_id = uuid.uuid4()
    try:
        stored_name = files.save_upload(files.original_name(track_id, info.container), upload)
    except Exception as exc:  # the storage edge: local disk and S3 fail in different ways
        logger.exception("Could not store the upload of user %s", owner.pk)
        raise TrackStorageError(STORAGE_FAILED) from exc
    return _track_record_upload(
        owner=owner,
        track_id=track_id,
        stored_name=stored_name,
        size=upload.size,
        filename=upload.name or "",
        title=title,
        info=info,
        upload_key=upload_key,
        then=then,
    )


def track_for_upload_key(*, owner_id, upload_key) -> Track | None:
    """The owner's track made by the upload with that idempotency key, if any."""
    if upload_key is None:
        return None
    return Track.objects.filter(owner_id=owner_id, upload_key=upload_key).first()


def _probe_upload(path, filename: str):
    """The song's header, checked against the limits; TrackUploadError with the reason.
    Messages name the user's file, never our temporary copy."""
    try:
        return audio_engine.probe(
            path, scan=False, name=PurePath(filename).name, limits=audio_limits()
        )
    except audio_engine.AudioLimitError as exc:
        raise TrackUploadError(f"That song is too long or too large to process: {exc}") from exc
    except audio_engine.AudioError as exc:
        raise TrackUploadError(f"We could not read that file as audio: {exc}") from exc


class _AlreadyUploaded(Exception):
    def __init__(self, track: Track) -> None:
        self.track = track


def _track_record_upload(
    *,
    owner,
    track_id,
    stored_name: str,
    size: int,
    filename: str,
    title: str,
    info,
    upload_key,
    then: Callable[[Track], object] | None,
    finished: DirectUpload | None = None,
) -> Track:
    """Make a stored, probed upload a track (and its original's asset), checking the quota
    again under a lock on the owner; on any failure before the commit the stored file goes.
    ``finished``: the direct upload it came from, deleted in the same transaction."""
    stems = _stems_estimate(info)
    try:
        with transaction.atomic():
            # Again under a lock on the owner: two uploads at once cannot both squeeze in,
            # and a retry racing its first attempt finds the first one's track.
            get_user_model().objects.select_for_update().filter(pk=owner.pk).first()
            existing = track_for_upload_key(owner_id=owner.pk, upload_key=upload_key)
            if existing is not None:
                raise _AlreadyUploaded(existing)
            track_quota_check(owner_id=owner.pk, needed_bytes=size + stems)
            track = Track.objects.create(
                id=track_id,
                owner=owner,
                title=clean_title(title) or track_title_from_filename(filename),
                original_filename=filename[:255],
                size_bytes=size,
                duration_s=info.duration_s,
                sample_rate=info.sample_rate,
                channels=info.channels,
                container=info.container[:16],
                codec=info.codec[:24],
                reserved_bytes=stems,
                upload_key=upload_key,
            )
            Asset.objects.create(
                track=track, kind=Asset.Kind.ORIGINAL, name=stored_name, size_bytes=size
            )
            if finished is not None:
                finished.delete()
            # Before `then`'s callbacks: a library page lists the track, then hears of its job.
            transaction.on_commit(partial(track_created_publish, track=track), robust=True)
            if then is not None:
                then(track)
    except _AlreadyUploaded as already:
        if already.track.id != track_id:
            track_discard_files([stored_name])
        if finished is not None:
            DirectUpload.objects.filter(pk=finished.pk).delete()
        return already.track
    except BaseException:
        # Only if the track did not make it: an error from a hook run after the commit
        # must not take the file from under a track that exists.
        if not Track.objects.filter(id=track_id).exists():
            track_discard_files([stored_name])
        raise
    logger.info("Track %s uploaded by user %s", track.id, owner.pk)
    return track


# --- Uploads straight to the bucket (tracks/direct.py) ------------------------------------


def direct_uploads_enabled() -> bool:
    """The upload page sends files straight to the bucket: storage is one, and it is on."""
    return settings.JAM_DIRECT_UPLOADS and direct.enabled()


@dataclass(frozen=True)
class DirectUploadPlan:
    """What the browser needs to send (or resume) a direct upload: where (`upload`, whose
    `upload_id` and part size), and which parts the bucket already holds."""

    upload: DirectUpload
    done_parts: list[int]

    @property
    def part_count(self) -> int:
        return direct.part_count(self.upload.size_bytes, self.upload.part_bytes)


def upload_size_check(*, size: int, filename: str) -> None:
    """TrackUploadError unless a file of this size and name may be uploaded at all."""
    if size > settings.JAM_MAX_UPLOAD_BYTES:
        raise TrackUploadError(
            f"That file is too big. The limit is {filesizeformat(settings.JAM_MAX_UPLOAD_BYTES)}."
        )
    if size <= 0:
        raise TrackUploadError("That file is empty.")
    if PurePath(filename).suffix.lower() not in ALLOWED_EXTENSIONS:
        allowed = ", ".join(ext.lstrip(".") for ext in ALLOWED_EXTENSIONS)
        raise TrackUploadError(f"Please upload an audio file ({allowed}).")


def track_direct_start(
    *,
    owner: AbstractBaseUser,
    upload_key: uuid.UUID,
    filename: str,
    size: int,
    title: str = "",
    options: dict | None = None,
) -> DirectUploadPlan | Track:
    """Sign the start of an upload straight to the bucket, or resume the one with the same
    key (the parts already there are listed, so the browser sends only the rest). Returns
    the track instead when that key already made one. Checks what can be checked before the
    bytes arrive: size, name, and the owner's quota for the file itself (the stems' share
    needs the song's length: the finish checks again with it)."""
    existing = track_for_upload_key(owner_id=owner.pk, upload_key=upload_key)
    if existing is not None:
        return existing
    filename = PurePath(filename.replace("\\", "/")).name[:255]
    row = DirectUpload.objects.filter(owner=owner, upload_key=upload_key).first()
    if row is not None and row.size_bytes == size and row.filename == filename:
        done = direct.parts(row.name, row.upload_id)
        if done is not None:
            return DirectUploadPlan(row, [part["PartNumber"] for part in done])
        # Completed (a finish whose answer was lost) or aborted: the finish will tell.
        return DirectUploadPlan(row, list(range(1, direct.part_count(size, row.part_bytes) + 1)))
    if row is not None:  # the same key for another file: start again
        direct_upload_discard(row)
    upload_size_check(size=size, filename=filename)
    track_quota_check(owner_id=owner.pk, needed_bytes=size)
    track_id = uuid.uuid4()
    extension = PurePath(filename).suffix.lower()
    name = f"{files.track_folder(track_id)}/original{extension}"
    content_type = mimetypes.guess_type(filename)[0] or "application/octet-stream"
    try:
        upload_id = direct.create(name, content_type)
    except Exception as exc:
        logger.exception("Could not start a direct upload for user %s", owner.pk)
        raise TrackStorageError(STORAGE_FAILED) from exc
    row = DirectUpload.objects.create(
        owner=owner,
        upload_key=upload_key,
        track_id=track_id,
        name=name,
        upload_id=upload_id,
        size_bytes=size,
        part_bytes=direct.part_size(size),
        filename=filename,
        title=clean_title(title),
        options=options or {},
    )
    return DirectUploadPlan(row, [])


def direct_upload_for(*, owner_id, upload_key) -> DirectUpload | None:
    return DirectUpload.objects.filter(owner_id=owner_id, upload_key=upload_key).first()


def track_direct_sign(*, upload: DirectUpload, numbers: list[int]) -> dict[int, str]:
    """Presigned URLs for the browser's PUTs of these parts (only numbers the file has)."""
    count = direct.part_count(upload.size_bytes, upload.part_bytes)
    wanted = sorted({n for n in numbers if 1 <= n <= count})
    return {
        n: direct.part_url(
            upload.name,
            upload.upload_id,
            n,
            direct.part_length(n, upload.part_bytes, upload.size_bytes),
        )
        for n in wanted
    }


def track_direct_finish(
    *,
    owner: AbstractBaseUser,
    upload: DirectUpload,
    then: Callable[[Track], object] | None = None,
) -> Track:
    """Complete a direct upload and verify it as the web node would an upload it received:
    the object's size (as signed, within the limit), its type and header from two range
    reads (`direct.probe_copy`), the duration and quota; then the track is created as by
    `track_upload`. A refused upload is deleted from the bucket. Safe to call again after a
    lost answer: a completed upload is verified as it is."""
    listed = direct.parts(upload.name, upload.upload_id)
    try:
        if listed is not None:
            expected = direct.part_count(upload.size_bytes, upload.part_bytes)
            if [part["PartNumber"] for part in listed] != list(range(1, expected + 1)):
                raise TrackUploadError("The upload did not arrive completely. Please try again.")
            direct.complete(upload.name, upload.upload_id, listed)
        size = direct.size_of(upload.name)
    except TrackUploadError:
        raise
    except Exception as exc:
        logger.exception("Could not complete the direct upload %s", upload.pk)
        raise TrackStorageError(STORAGE_FAILED) from exc
    if size is None:
        direct_upload_discard(upload)
        raise TrackUploadError("The upload did not arrive completely. Please try again.")
    try:
        if size != upload.size_bytes:
            raise TrackUploadError("The upload did not arrive completely. Please try again.")
        upload_size_check(size=size, filename=upload.filename)
        with tempfile.TemporaryDirectory(prefix="jam-probe-") as folder:
            local = direct.probe_copy(upload.name, size, Path(folder) / "upload")
            info = _probe_upload(local, upload.filename)
        track_quota_check(owner_id=owner.pk, needed_bytes=size + _stems_estimate(info))
    except TrackUploadError:
        direct_upload_discard(upload)
        raise
    return _track_record_upload(
        owner=owner,
        track_id=upload.track_id,
        stored_name=upload.name,
        size=size,
        filename=upload.filename,
        title=upload.title,
        info=info,
        upload_key=upload.upload_key,
        then=then,
        finished=upload,
    )


def direct_upload_discard(upload: DirectUpload) -> None:
    """Forget a direct upload: abort its multipart upload, delete its object if any."""
    try:
        direct.abort(upload.name, upload.upload_id)
    except Exception:
        logger.warning("Could not abort direct upload %s", upload.pk, exc_info=True)
    track_discard_files([upload.name])
    DirectUpload.objects.filter(pk=upload.pk).delete()


def direct_uploads_sweep(*, older_than_h: float | None = None) -> int:
    """The sweep's chore: abort incomplete multipart uploads older than
    JAM_MULTIPART_ABORT_AFTER_H under the media prefix (a killed worker's or web node's
    too), and forget direct uploads that old that never became tracks. Returns how many
    multipart uploads it aborted."""
    hours = settings.JAM_MULTIPART_ABORT_AFTER_H if older_than_h is None else older_than_h
    cutoff = timezone.now() - timedelta(hours=hours)
    for upload in DirectUpload.objects.filter(created_at__lte=cutoff)[:200]:
        direct_upload_discard(upload)
    return direct.multipart_abort_stale(older_than_h=hours)


def _stems_estimate(info) -> int:
    """What a separation of this song will store: one WAV per stem, at the song's rate and
    channel count, 24-bit for finer than 16-bit input (as the engine writes them; the
    waveform pictures are small)."""
    sample_bytes = 3 if audio_engine.output_subtype(info) == "PCM_24" else 2
    frames = int(info.duration_s * info.sample_rate)
    return len(STEMS) * frames * info.channels * sample_bytes


def track_quota_check(*, owner_id, needed_bytes: int) -> None:
    """TrackUploadError when the owner's storage quota cannot take ``needed_bytes`` more."""
    use = storage_use_for_user(user_id=owner_id)
    if not use.quota_bytes or use.used_bytes + needed_bytes <= use.quota_bytes:
        return
    need, quota = filesizeformat(needed_bytes), filesizeformat(use.quota_bytes)
    if needed_bytes > use.quota_bytes:
        raise TrackUploadError(
            f"That song is too big for your storage: with its jam track it needs about "
            f"{need}, and your whole library may hold {quota}."
        )
    raise TrackUploadError(
        f"Your library is full: this song and its jam track need about {need}, and you have "
        f"{filesizeformat(max(0, use.quota_bytes - use.used_bytes))} of your {quota} left. "
        "Delete some tracks to make room."
    )


def track_rename(*, track: Track, title: str) -> Track:
    track.title = clean_title(title)
    track.save(update_fields=("title",))
    return track


@dataclass
class TrackDeletion:
    """What `track_delete` did. ``files_left``: files storage refused to delete (they are
    retried later); None while the caller's transaction has not committed yet."""

    title: str
    files_left: int | None = None


def track_delete(*, track: Track) -> TrackDeletion:
    """Delete a track and its job; its files go once that commits. The files to delete are
    recorded in the same transaction, so a storage failure (or a crash before the commit
    hook) leaves a record that `track_retry_file_deletions` works through."""
    outcome = TrackDeletion(title=track.title)
    # The folder too: it also holds anything a run stored meanwhile, recorded or not.
    names = [*track.stored_names, files.folder_marker(track.id)]
    listeners = set(track_audience(track)) - {track.owner_id}
    track_id = track.id
    with transaction.atomic():
        # Its reports stay in the owner's history; the ones still open close with it.
        Report.objects.filter(track=track, resolved_at=None).update(
            resolved_at=timezone.now(), resolution=Report.Resolution.DELETED
        )
        track.delete()
        _file_deletions_record(names)

    def delete_files() -> None:
        outcome.files_left = len(_file_deletions_attempt(names))
        track_revoked_publish(
            track_id=track_id,
            user_ids=listeners,
            message=f"“{outcome.title}” is no longer available.",
        )

    transaction.on_commit(delete_files)  # at once, unless the caller holds a transaction
    logger.info("Track %s deleted", outcome.title)
    return outcome


def track_discard_files(names: list[str]) -> list[str]:
    """Delete stored files that nothing refers to now; any that storage refuses are recorded
    for `track_retry_file_deletions`. Returns the names left behind."""
    return _file_deletions_attempt(names)  # the same attempt; an unrecorded name has no record


def track_retry_file_deletions(*, limit: int = 200) -> tuple[int, int]:
    """Try again to delete files an earlier deletion could not remove. Run by the worker at
    start and between jobs. Returns (deleted, still left)."""
    names = list(FileDeletion.objects.values_list("name", flat=True)[:limit])
    left = _file_deletions_attempt(names)
    if names:
        logger.info("Retried %d file deletion(s): %d still left", len(names), len(left))
    return len(names) - len(left), len(left)


def _file_deletions_record(names: list[str]) -> None:
    FileDeletion.objects.bulk_create(
        [FileDeletion(name=name) for name in names], ignore_conflicts=True
    )


def _file_deletions_attempt(names: list[str]) -> list[str]:
    """Delete recorded files now: done ones lose their record, failed ones keep it."""
    failed = files.delete_quietly(names)
    FileDeletion.objects.filter(name__in=[name for name in names if name not in failed]).delete()
    for name, reason in failed.items():
        _file_deletion_failed(name, reason)
    return list(failed)


def _file_deletion_failed(name: str, reason: str) -> None:
    record, _ = FileDeletion.objects.get_or_create(name=name)
    FileDeletion.objects.filter(pk=record.pk).update(
        attempts=F("attempts") + 1, tried_at=timezone.now(), last_error=reason[:300]
    )


@dataclass(frozen=True)
class StoredOutput:
    """A file saved in storage for a track and not yet one of its `Asset` rows: a stem,
    waveform or peaks of a separation run (`track_store_outputs`) or an export's rendition
    (`track_store_rendition`). It becomes an asset in the transaction that finishes its job
    (`track_record_outputs`, `track_record_rendition`); until then only the caller knows it."""

    kind: str  # Asset.Kind.STEM, WAVEFORM, PEAKS or RENDITION
    stem: str  # the stem it is or draws; "" for the original's waveform (or peaks)
    name: str
    size_bytes: int


def track_store_outputs(
    *,
    track_id,
    stems: dict[str, Path],
    waveforms: dict[str, Path],
    peaks: dict[str, Path] | None = None,
    while_storing: Callable[[float], None] | None = None,
) -> list[StoredOutput]:
    """Store one run's stems and waveform pictures under new names.

    ``waveforms`` and ``peaks`` (their data as JSON, for the player) are keyed by "" (the
    original) or a stem name. ``while_storing(fraction)`` is called for every chunk storage
    reads, with the share of the run's bytes stored so far (the worker's heartbeat and
    progress: storing can take minutes). Nothing
    is recorded on the track yet (see `track_record_outputs`); on failure whatever was
    stored is deleted.
    """
    prefix = files.new_run_prefix(track_id)
    planned = (
        [
            (Asset.Kind.STEM, stem, files.stem_name(prefix, stem), path)
            for stem, path in stems.items()
        ]
        + [
            (Asset.Kind.WAVEFORM, part, files.waveform_name(prefix, part or ORIGINAL_PART), path)
            for part, path in waveforms.items()
        ]
        + [
            (Asset.Kind.PEAKS, part, files.peaks_name(prefix, part or ORIGINAL_PART), path)
            for part, path in (peaks or {}).items()
        ]
    )
    stored: list[StoredOutput] = []
    total = max(1, sum(path.stat().st_size for *_, path in planned))
    try:
        for kind, stem, name, path in planned:
            before = sum(output.size_bytes for output in stored)
            on_read = None
            if while_storing is not None:

                def on_read(read: int, before: int = before) -> None:
                    while_storing(min(1.0, (before + read) / total))

            saved = files.save_file(name, path, on_read=on_read)
            stored.append(StoredOutput(kind, stem, saved, path.stat().st_size))
    except BaseException:
        track_discard_files([output.name for output in stored])
        raise
    return stored


def track_record_outputs(*, track_id, job_id: int | None, outputs: list[StoredOutput]) -> None:
    """Make one run's stored files the track's current stems and waveforms, replacing any
    earlier ones (whose files go once this commits). Call inside the caller's transaction."""
    replaced = Asset.objects.filter(
        track_id=track_id, kind__in=(Asset.Kind.STEM, Asset.Kind.WAVEFORM, Asset.Kind.PEAKS)
    )
    old_names = list(replaced.values_list("name", flat=True))
    replaced.delete()
    _file_deletions_record(old_names)
    Track.objects.filter(id=track_id).update(reserved_bytes=0)  # the stems are here now
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
        transaction.on_commit(lambda: _file_deletions_attempt(old_names))


def track_create_for_import(
    *, owner: AbstractBaseUser, title: str, source_url: str, then: Callable[[Track], object]
) -> Track:
    """A track for a song that a worker will fetch from ``source_url`` (imports/): no file
    yet; ``then(track)`` queues the fetch in the same transaction. It joins the owner's
    library at once."""
    with transaction.atomic():
        track = Track.objects.create(
            owner=owner, title=clean_title(title) or "Untitled", source_url=source_url[:2000]
        )
        transaction.on_commit(partial(track_created_publish, track=track), robust=True)
        then(track)
    return track


def track_stems_estimate(info: audio_engine.AudioInfo) -> int:
    """What a separation of a song like ``info`` will store (the quota's reservation)."""
    return _stems_estimate(info)


def track_store_original(
    *, track_id, path: Path, container: str, while_storing: Callable[[], None] | None = None
) -> StoredOutput:
    """Store a fetched song as a track's original, under a new name; record it with
    `track_record_original` in the transaction that finishes the fetch."""
    on_read = (lambda read: while_storing()) if while_storing is not None else None
    name = files.original_name(track_id, container).replace(
        "/original", f"/original-{uuid.uuid4().hex[:8]}", 1
    )
    saved = files.save_file(name, path, on_read=on_read)
    return StoredOutput(Asset.Kind.ORIGINAL, "", saved, path.stat().st_size)


def track_record_original(
    *,
    track_id,
    output: StoredOutput,
    info: audio_engine.AudioInfo,
    source_title: str = "",
    then: Callable[[Track], object] | None = None,
) -> Track:
    """Make a stored fetched song the track's original: its audio facts, the page's title,
    the room its stems will take; the owner's quota is checked again under a lock on the
    owner (TrackUploadError). ``then(track)`` queues its separation. Call inside the
    caller's transaction."""
    track = Track.objects.select_related("owner").get(id=track_id)
    stems = _stems_estimate(info)
    get_user_model().objects.select_for_update().filter(pk=track.owner_id).first()
    track_quota_check(owner_id=track.owner_id, needed_bytes=output.size_bytes + stems)
    Asset.objects.create(
        track=track, kind=Asset.Kind.ORIGINAL, name=output.name, size_bytes=output.size_bytes
    )
    track.size_bytes = output.size_bytes
    track.duration_s = info.duration_s
    track.sample_rate = info.sample_rate
    track.channels = info.channels
    track.container = info.container[:16]
    track.codec = info.codec[:24]
    track.reserved_bytes = stems
    track.source_title = clean_title(source_title)[:300]
    track.save(
        update_fields=(
            "size_bytes",
            "duration_s",
            "sample_rate",
            "channels",
            "container",
            "codec",
            "reserved_bytes",
            "source_title",
        )
    )
    if then is not None:
        then(track)
    return track


def track_store_rendition(
    *,
    track_id,
    settings_slug: str,
    fmt: str,
    path: Path,
    while_storing: Callable[[], None] | None = None,
) -> StoredOutput:
    """Store a rendered file (an export) under a new name; record it with
    `track_record_rendition` in the transaction that finishes its job."""
    name = files.rendition_name(track_id, settings_slug, fmt)
    on_read = None
    if while_storing is not None:

        def on_read(read: int) -> None:  # the heartbeat; a render's progress stays put here
            while_storing()

    saved = files.save_file(name, path, on_read=on_read)
    return StoredOutput(Asset.Kind.RENDITION, "", saved, path.stat().st_size)


def track_record_rendition(
    *, track_id, output: StoredOutput, parameters: dict, charged_to_id=None
) -> Asset:
    """Make a stored rendition one of the track's files: counted in the quota of
    ``charged_to_id`` (who asked for it; None: the owner's), deleted with the track. Call
    inside the caller's transaction."""
    return Asset.objects.create(
        track_id=track_id,
        charged_to_id=charged_to_id,
        kind=Asset.Kind.RENDITION,
        name=output.name,
        size_bytes=output.size_bytes,
        parameters=parameters,
    )


def track_charge_rendition(*, asset_id: int, user_id) -> None:
    """Count a rendition in another user's storage (the export's payer withdrew)."""
    Asset.objects.filter(id=asset_id, kind=Asset.Kind.RENDITION).update(charged_to_id=user_id)


def track_delete_rendition(*, asset_id: int) -> None:
    """Delete a rendition (an export's file) of a track: its Asset goes now, so the owner's
    quota is freed, and its file once the caller's transaction commits. As for a track, the
    file is recorded for deletion in the same transaction, so a storage failure (or a crash
    before the commit hook) leaves a record that `track_retry_file_deletions` works
    through. Only renditions: stems and originals go with their track."""
    with transaction.atomic():
        asset = Asset.objects.filter(id=asset_id, kind=Asset.Kind.RENDITION).first()
        if asset is None:
            return
        names = [asset.name]
        asset.delete()
        _file_deletions_record(names)
        transaction.on_commit(lambda: _file_deletions_attempt(names))


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
        track_discard_files(orphans)
    return orphans
