"""The separation job life cycle: enqueue, claim, run, finish, fail, retry, cancel, recover.

Every state change is a conditional UPDATE on the job row, so two workers can never both
own a job and a stale worker can never overwrite a newer state. Notifications are sent
after the row changed and only describe it.
"""

import logging
import os
import shutil
import socket
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import timedelta
from functools import partial
from pathlib import Path, PurePath
from typing import Any

from django.conf import settings
from django.core.files import File
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from separation import engine as audio_engine
from separation.models import SeparationJob
from separation.notifications import job_publish
from separation.waveforms import WIDTH, waveform_png

logger = logging.getLogger(__name__)
Status = SeparationJob.Status

GENERIC_FAILURE = "Something went wrong while separating this track. Please try again."
TOO_MANY_ATTEMPTS = "The worker stopped while separating this track too many times."
HEARTBEAT_EVERY_S = 5.0
PROGRESS_EVERY_S = 0.5


class JobInterrupted(Exception):
    """The worker is stopping: the job goes back to the queue."""


class JobLost(Exception):
    """The job is no longer ours (deleted, or handed to another worker)."""


def worker_identity() -> str:
    """`host:pid:token`, unique per worker run; lets recovery spot a dead worker on this host."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


# --- Enqueue, retry, cancel (called from views) --------------------------------------------


def job_enqueue(*, track: Any) -> SeparationJob:
    """Create the queued job for a new track; workers hear of it only after commit."""
    job = SeparationJob.objects.create(track=track)
    transaction.on_commit(partial(job_dispatch, job_id=job.id))
    return job


def job_dispatch(*, job_id: int) -> None:
    """Hand a committed queued job to the workers. Embedded workers poll the table; in the
    scale-out mode a thin Celery task takes the id."""
    if settings.SEPARATION_DISPATCH == "celery":
        from separation.tasks import separate_task

        separate_task.delay(job_id)
    job_publish(job_id=job_id)


def job_retry(*, job: SeparationJob) -> bool:
    """Queue a failed or cancelled job again. Returns False when it was not retryable."""
    now = timezone.now()
    updated = SeparationJob.objects.filter(
        id=job.id, status__in=(Status.FAILED, Status.CANCELLED)
    ).update(
        status=Status.QUEUED,
        progress=0,
        error="",
        attempts=0,
        claimed_by="",
        heartbeat_at=None,
        started_at=None,
        finished_at=None,
        updated_at=now,
    )
    if updated:
        transaction.on_commit(partial(job_dispatch, job_id=job.id))
    return bool(updated)


def job_cancel(*, job: SeparationJob) -> bool:
    """Cancel a job that no worker has started. Returns False when it was not queued."""
    now = timezone.now()
    updated = SeparationJob.objects.filter(id=job.id, status=Status.QUEUED).update(
        status=Status.CANCELLED, finished_at=now, updated_at=now
    )
    if updated:
        transaction.on_commit(partial(job_publish, job_id=job.id))
    return bool(updated)


# --- Claiming and recovery (called by workers) ---------------------------------------------


def job_claim(*, job_id: int, worker_id: str) -> SeparationJob | None:
    """Take a queued job. Only one caller can win: the update is conditional on `queued`."""
    now = timezone.now()
    claimed = SeparationJob.objects.filter(id=job_id, status=Status.QUEUED).update(
        status=Status.RUNNING,
        claimed_by=worker_id,
        attempts=F("attempts") + 1,
        progress=0,
        error="",
        started_at=now,
        heartbeat_at=now,
        finished_at=None,
        updated_at=now,
    )
    if claimed != 1:
        return None
    job_publish(job_id=job_id)
    return SeparationJob.objects.select_related("track").get(id=job_id)


def job_claim_next(*, worker_id: str) -> SeparationJob | None:
    """Claim the job that has waited longest, skipping any another worker just took."""
    candidates = (
        SeparationJob.objects.filter(status=Status.QUEUED)
        .order_by("updated_at", "id")
        .values_list("id", flat=True)[:20]
    )
    for job_id in list(candidates):
        job = job_claim(job_id=job_id, worker_id=worker_id)
        if job is not None:
            return job
    return None


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _claimer_is_dead(claimed_by: str) -> bool:
    """True when the claiming worker ran on this host and its process is gone."""
    host, _, rest = claimed_by.partition(":")
    pid_text = rest.partition(":")[0]
    if host != socket.gethostname() or not pid_text.isdigit():
        return False
    pid = int(pid_text)
    return pid != os.getpid() and not _pid_alive(pid)


def _sweep_unreferenced_files(*, job_id: int) -> None:
    from tracks.services import track_sweep_unreferenced_files

    track_id = SeparationJob.objects.filter(id=job_id).values_list("track_id", flat=True).first()
    if track_id is not None:
        swept = track_sweep_unreferenced_files(track_id=track_id)
        if swept:
            logger.warning("Deleted %d unrecorded file(s) of job %s", len(swept), job_id)


def job_recover_orphans() -> list[int]:
    """Requeue jobs left `running` by a worker that died: its process is gone (same host) or
    its heartbeat is older than SEPARATION_STALE_AFTER_S. A job that has already been
    attempted SEPARATION_MAX_ATTEMPTS times is failed instead, so it cannot crash-loop."""
    now = timezone.now()
    stale_before = now - timedelta(seconds=settings.SEPARATION_STALE_AFTER_S)
    recovered = []
    running = SeparationJob.objects.filter(status=Status.RUNNING).values(
        "id", "claimed_by", "heartbeat_at", "attempts"
    )
    for row in list(running):
        stale = row["heartbeat_at"] is None or row["heartbeat_at"] < stale_before
        if not (stale or _claimer_is_dead(row["claimed_by"])):
            continue
        same_claim = SeparationJob.objects.filter(
            id=row["id"], status=Status.RUNNING, claimed_by=row["claimed_by"]
        )
        # Files a dead run stored but never recorded; swept while the job is still claimed,
        # so no new run can be storing files for it yet.
        _sweep_unreferenced_files(job_id=row["id"])
        if row["attempts"] >= settings.SEPARATION_MAX_ATTEMPTS:
            changed = same_claim.update(
                status=Status.FAILED, error=TOO_MANY_ATTEMPTS, finished_at=now, updated_at=now
            )
        else:
            changed = same_claim.update(
                status=Status.QUEUED, claimed_by="", heartbeat_at=None, progress=0, updated_at=now
            )
        if changed:
            logger.warning("Recovered job %s left running by %s", row["id"], row["claimed_by"])
            recovered.append(row["id"])
            job_publish(job_id=row["id"])
    return recovered


# --- Running a job -------------------------------------------------------------------------


class _ProgressReporter:
    """The engine's progress callback: writes progress and heartbeat to the row (throttled),
    publishes it, and aborts the run when the worker stops or the job was taken away."""

    def __init__(self, *, job_id: int, worker_id: str, should_stop: Callable[[], bool]):
        self.job_id = job_id
        self.worker_id = worker_id
        self.should_stop = should_stop
        self.percent = 0
        self.written_at = 0.0

    def __call__(self, fraction: float) -> None:
        if self.should_stop():
            raise JobInterrupted
        percent = max(0, min(99, int(float(fraction) * 100)))
        now = time.monotonic()
        changed = percent != self.percent
        if (changed and now - self.written_at >= PROGRESS_EVERY_S) or (
            now - self.written_at >= HEARTBEAT_EVERY_S
        ):
            self.write(percent)
            self.written_at = now
            if changed:
                job_publish(job_id=self.job_id)

    def write(self, percent: int) -> None:
        stamp = timezone.now()
        updated = SeparationJob.objects.filter(
            id=self.job_id, status=Status.RUNNING, claimed_by=self.worker_id
        ).update(progress=percent, heartbeat_at=stamp, updated_at=stamp)
        if updated != 1:
            raise JobLost
        self.percent = percent


def _copy_to_local(name: str, directory: Path) -> Path:
    """Copy a stored file to local disk: the engine needs a path, storage may be remote."""
    local = directory / f"input{PurePath(name).suffix.lower()}"
    with default_storage.open(name, "rb") as source, open(local, "wb") as target:
        shutil.copyfileobj(source, target, length=1024 * 1024)
    return local


def _store_outputs(*, track: Any, result: Any, source: Path, work_dir: Path) -> dict[str, str]:
    """Save stems and waveform pictures under new names (unique per run, so a worker that
    lost its claim can never overwrite another run's files)."""
    prefix = f"tracks/{track.id}/{uuid.uuid4().hex[:12]}"
    stored: dict[str, str] = {}
    try:
        for field, path in (("instrumental", result.accompaniment), ("vocals", result.vocals)):
            with open(path, "rb") as fh:
                stored[field] = default_storage.save(f"{prefix}-{field}.wav", File(fh))
        for kind, path in (
            ("original", source),
            ("instrumental", result.accompaniment),
            ("vocals", result.vocals),
        ):
            peaks = audio_engine.waveform_peaks(path, width=WIDTH)
            picture = waveform_png(peaks=peaks, out_path=work_dir / f"{kind}.png", kind=kind)
            with open(picture, "rb") as fh:
                stored[f"waveform_{kind}"] = default_storage.save(
                    f"{prefix}-waveform-{kind}.png", File(fh)
                )
    except BaseException:
        _delete_stored(list(stored.values()))
        raise
    return stored


def _delete_stored(names: list[str]) -> None:
    from tracks.services import storage_delete_quietly

    storage_delete_quietly(names=names)


def job_fail(*, job_id: int, worker_id: str, reason: str) -> bool:
    now = timezone.now()
    updated = SeparationJob.objects.filter(
        id=job_id, status=Status.RUNNING, claimed_by=worker_id
    ).update(status=Status.FAILED, error=reason[:500], finished_at=now, updated_at=now)
    if updated:
        job_publish(job_id=job_id)
    return bool(updated)


def job_release(*, job_id: int, worker_id: str) -> bool:
    """Give a running job back to the queue (the worker is stopping)."""
    now = timezone.now()
    updated = SeparationJob.objects.filter(
        id=job_id, status=Status.RUNNING, claimed_by=worker_id
    ).update(
        status=Status.QUEUED,
        claimed_by="",
        heartbeat_at=None,
        progress=0,
        attempts=F("attempts") - 1,
        updated_at=now,
    )
    if updated:
        job_publish(job_id=job_id)
    return bool(updated)


def _job_finish(*, job: SeparationJob, worker_id: str, stored: dict[str, str]) -> bool:
    from tracks.models import Track

    now = timezone.now()
    with transaction.atomic():
        finished = SeparationJob.objects.filter(
            id=job.id, status=Status.RUNNING, claimed_by=worker_id
        ).update(status=Status.DONE, progress=100, finished_at=now, updated_at=now)
        if finished:
            Track.objects.filter(id=job.track_id).update(**stored)
    if not finished:
        _delete_stored(list(stored.values()))
        return False
    job_publish(job_id=job.id)
    return True


def job_run(
    *,
    job: SeparationJob,
    worker_id: str,
    engine: Any,
    should_stop: Callable[[], bool] = lambda: False,
) -> str:
    """Separate a claimed job's track and record the outcome on the row.

    Never raises for a bad job: the reason goes on the row and the worker moves on.
    Returns the job's final status as seen by this worker.
    """
    track = job.track
    reporter = _ProgressReporter(job_id=job.id, worker_id=worker_id, should_stop=should_stop)
    try:
        with tempfile.TemporaryDirectory(prefix="jamwithme-") as tmp:
            work_dir = Path(tmp)
            source = _copy_to_local(track.original.name, work_dir)
            out_dir = work_dir / "out"
            out_dir.mkdir()
            result = engine.separate_file(
                source,
                out_dir,
                progress=reporter,
                max_duration_s=settings.JAM_MAX_DURATION_S,
                name=track.original_filename or None,
            )
            reporter.write(99)
            stored = _store_outputs(track=track, result=result, source=source, work_dir=work_dir)
    except JobInterrupted:
        logger.info("Job %s interrupted by shutdown; back to the queue", job.id)
        job_release(job_id=job.id, worker_id=worker_id)
        return Status.QUEUED
    except JobLost:
        logger.info("Job %s is no longer ours; dropping it", job.id)
        return "lost"
    except audio_engine.AudioError as exc:
        logger.info("Job %s failed on bad audio: %s", job.id, exc)
        job_fail(job_id=job.id, worker_id=worker_id, reason=f"Could not read the audio: {exc}")
        return Status.FAILED
    except audio_engine.ModelError as exc:
        logger.error("Job %s failed: separation model unavailable: %s", job.id, exc)
        job_fail(job_id=job.id, worker_id=worker_id, reason="The separation model is unavailable.")
        return Status.FAILED
    except Exception:
        # The task edge: one bad job must never take the worker down with it.
        logger.exception("Job %s failed", job.id)
        job_fail(job_id=job.id, worker_id=worker_id, reason=GENERIC_FAILURE)
        return Status.FAILED
    if _job_finish(job=job, worker_id=worker_id, stored=stored):
        logger.info("Job %s done", job.id)
        return Status.DONE
    return "lost"


def job_process(*, job_id: int, engine: Any, worker_id: str | None = None) -> str | None:
    """Claim and run one job by id (the Celery task's body). Quiet if it vanished or is taken."""
    worker_id = worker_id or worker_identity()
    job = job_claim(job_id=job_id, worker_id=worker_id)
    if job is None:
        return None
    return job_run(job=job, worker_id=worker_id, engine=engine)
