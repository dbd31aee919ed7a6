"""Fetching a link's song: the work of the import kind (`imports.kind`), run by the one
runner. The extractor's metadata is checked against the owner's limits before any media
byte comes; the download is capped in bytes and time by the guard whatever it claimed; the
file is checked as an upload is; the runner then records it as the track's original and
queues its separation, in the transaction that marks the import done."""

import contextlib
import logging
import queue
import threading

from django.conf import settings

import engine as audio_engine
from catalog.stems import STEMS
from imports.fetch import Fetched, FetchError, fetch_audio
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


def _fetch_beating(job: ImportJob, run: Run, *, owner_id) -> Fetched:
    """Fetch in a thread of its own while this one reports its progress and heartbeat: a
    page can take minutes without a byte of media (a slow server, a long extraction), and
    the sweep must not take the job for dead meanwhile. A cancel or a shutdown, noticed
    here at the next report, stops the fetch at once (the guard closes every connection).
    The extractor's metadata comes back to this thread to be checked (the database is this
    thread's), and the fetch waits for the verdict."""
    fetching = run.phase(Phase.FETCHING)
    out_dir = run.scratch / "fetch"
    out_dir.mkdir()
    stop = threading.Event()
    progress = [0.0]
    outcome: dict = {}
    asked: queue.Queue = queue.Queue()
    verdicts: queue.Queue = queue.Queue()

    def check(info: dict) -> None:  # in the fetch's thread
        asked.put(info)
        while True:
            try:
                verdict = verdicts.get(timeout=0.25)
            except queue.Empty:
                if stop.is_set():
                    raise FetchError("The fetch was stopped.") from None
                continue
            if verdict is not None:
                raise verdict
            return

    def fetch() -> None:
        try:
            outcome["fetched"] = fetch_audio(
                job.url,
                out_dir=out_dir,
                guard=Guard(policy=import_policy()),
                max_bytes=settings.JAM_IMPORT_MAX_BYTES,
                page_bytes=settings.JAM_IMPORT_PAGE_BYTES,
                deadline_s=settings.JAM_IMPORT_TIME_LIMIT_S,
                check=check,
                progress=lambda fraction: progress.__setitem__(0, fraction),
                stop=stop,
            )
        except BaseException as exc:  # handed to the job's thread, which decides
            outcome["error"] = exc

    thread = threading.Thread(target=fetch, name=f"import-{job.pk}", daemon=True)
    thread.start()
    try:
        while thread.is_alive():
            thread.join(timeout=0.25)
            with contextlib.suppress(queue.Empty):
                info = asked.get_nowait()
                try:
                    metadata_check(info, owner_id=owner_id)
                except FetchError as refused:
                    verdicts.put(refused)
                else:
                    verdicts.put(None)
            fetching(progress[0])  # JobLost when cancelled, JobInterrupted when stopping
    except BaseException:
        stop.set()
        thread.join(timeout=30)
        raise
    error = outcome.get("error")
    if isinstance(error, FetchError):
        raise JobFailed(str(error)) from error
    if error is not None:
        raise error
    return outcome["fetched"]


def import_work(job: ImportJob, run: Run) -> Made:
    """Fetch the job's link into ``run.scratch``, check the song and store it; `Made.record`
    makes it the track's original and queues its separation."""
    track = job.track
    track_sweep_unreferenced_files(track_id=track.id)  # what a dead run stored, unrecorded
    fetched = _fetch_beating(job, run, owner_id=track.owner_id)
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
