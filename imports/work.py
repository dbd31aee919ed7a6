"""Fetching a link's song: the work of the import kind (`imports.kind`), run by the one
runner. The extractor's metadata is checked against the owner's limits before any media
byte comes; the download is capped in bytes and time by the guard whatever it claimed; the
file is checked as an upload is; the runner then records it as the track's original and
queues its separation, in the transaction that marks the import done."""

import logging

from django.conf import settings

import engine as audio_engine
from catalog.stems import STEMS
from imports.fetch import FetchError, fetch_audio
from imports.guard import Guard
from imports.models import ImportJob
from imports.services import import_policy
from jobs.runner import JobFailed, Made, Run
from separation.services.dispatch import job_enqueue
from tracks.services import (
    TrackUploadError,
    audio_limits,
    track_discard_files,
    track_quota_check,
    track_record_original,
    track_stems_estimate,
    track_store_original,
    track_sweep_unreferenced_files,
)

logger = logging.getLogger(__name__)
Phase = ImportJob.Phase

# The stems' room for a song whose rate the metadata does not say: CD audio, 16-bit stereo.
_STEM_BYTES_PER_SECOND = 44_100 * 2 * 2


def _minutes(seconds: float) -> str:
    return f"{seconds / 60:g}"


def metadata_check(info: dict, *, owner_id) -> None:
    """Refuse (FetchError) what the extractor says before a byte of media comes: a
    playlist, a live stream, a song over the length limit, a file over the size limit, or
    one the owner's storage cannot take with its stems."""
    if info.get("_type") in ("playlist", "multi_video") or info.get("entries") is not None:
        raise FetchError("That link is a playlist; add its songs one by one.")
    if info.get("is_live") or info.get("live_status") in ("is_live", "is_upcoming"):
        raise FetchError("That link is a live stream, which cannot be imported.")
    duration = info.get("duration")
    if duration and duration > settings.JAM_MAX_DURATION_S:
        raise FetchError(
            f"That song is {_minutes(round(duration / 60, 1) * 60)} minutes long; the limit is "
            f"{_minutes(settings.JAM_MAX_DURATION_S)} minutes."
        )
    size = info.get("filesize") or info.get("filesize_approx") or 0
    if size > settings.JAM_IMPORT_MAX_BYTES:
        raise FetchError(
            f"That file is larger than the import limit of "
            f"{settings.JAM_IMPORT_MAX_BYTES // (1024 * 1024)} MB."
        )
    stems = int((duration or 0) * _STEM_BYTES_PER_SECOND * len(STEMS))
    try:
        track_quota_check(owner_id=owner_id, needed_bytes=int(size) + stems)
    except TrackUploadError as exc:
        raise FetchError(str(exc)) from exc


def import_work(job: ImportJob, run: Run) -> Made:
    """Fetch the job's link into ``run.scratch``, check the song and store it; `Made.record`
    makes it the track's original and queues its separation."""
    track = job.track
    track_sweep_unreferenced_files(track_id=track.id)  # what a dead run stored, unrecorded
    fetching = run.phase(Phase.FETCHING)
    out_dir = run.scratch / "fetch"
    out_dir.mkdir()
    try:
        fetched = fetch_audio(
            job.url,
            out_dir=out_dir,
            guard=Guard(policy=import_policy()),
            max_bytes=settings.JAM_IMPORT_MAX_BYTES,
            page_bytes=settings.JAM_IMPORT_PAGE_BYTES,
            deadline_s=settings.JAM_IMPORT_TIME_LIMIT_S,
            check=lambda info: metadata_check(info, owner_id=track.owner_id),
            progress=fetching,
        )
    except FetchError as exc:
        raise JobFailed(str(exc)) from exc
    run.phase(Phase.STORING)(0)
    try:
        # The whole file is decoded once here (seconds): a server that sent less than its
        # header promised, or no audio at all, fails the import, not the separation.
        info = audio_engine.probe(fetched.path, name="the fetched file", limits=audio_limits())
    except audio_engine.AudioLimitError as exc:
        raise JobFailed(f"That song is too long or too large to process: {exc}") from exc
    except audio_engine.AudioError as exc:
        raise JobFailed(f"The link gave no audio we can read: {exc}") from exc
    size = fetched.path.stat().st_size
    try:  # before storing; again under the owner's lock as it is recorded
        track_quota_check(owner_id=track.owner_id, needed_bytes=size + track_stems_estimate(info))
    except TrackUploadError as exc:
        raise JobFailed(str(exc)) from exc
    stored = track_store_original(
        track_id=track.id, path=fetched.path, container=info.container, while_storing=run.beat
    )

    def record() -> dict:
        track_record_original(
            track_id=track.id,
            output=stored,
            info=info,
            source_title=fetched.title,
            then=lambda song: job_enqueue(track=song, quality=job.quality),
        )
        return {}

    logger.info("Import %s fetched %d bytes from %s", job.id, size, fetched.page_url)
    return Made(record=record, discard=lambda: track_discard_files([stored.name]))
