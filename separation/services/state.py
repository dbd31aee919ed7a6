"""Every change of a job's state: a conditional UPDATE on the row (`jobs.state`, shared with
renders), then an event.

Two workers can never both own a job, and a worker that lost its claim (the job was
recovered, cancelled or deleted) can never overwrite a newer state: each write a worker
makes goes through `SeparationJob.objects.claimed(...)`. Events are sent after the row
changed and only describe it.
"""

from django.utils import timezone

from jobs import state as job_state
from separation.events import job_publish
from separation.models import SeparationJob

Status = SeparationJob.Status
TOO_MANY_ATTEMPTS = "The worker stopped while separating this track too many times."


class JobLost(Exception):
    """The job is no longer ours (deleted, or handed to another worker)."""


def job_claim(*, job_id: int, worker_id: str) -> SeparationJob | None:
    """Take a queued job. Only one caller can win: the update is conditional on `queued`."""
    if not job_state.claim(
        SeparationJob, pk=job_id, worker_id=worker_id, phase=SeparationJob.Phase.SEPARATING
    ):
        return None
    return _started(job_id)


def _started(job_id: int) -> SeparationJob:
    job_publish(job_id=job_id)
    return SeparationJob.objects.select_related("track").get(id=job_id)


def job_take_over(
    *, job_id: int, worker_id: str, stale_before, max_attempts: int
) -> SeparationJob | None:
    """Take a job left `running` by a dead worker (its process is gone from this host, or
    its heartbeat is older than ``stale_before``): the broker delivered its message again.
    Once it has been attempted ``max_attempts`` times it is failed instead."""
    status = job_state.take_over(
        SeparationJob,
        pk=job_id,
        worker_id=worker_id,
        stale_before=stale_before,
        max_attempts=max_attempts,
        reason=TOO_MANY_ATTEMPTS,
        phase=SeparationJob.Phase.SEPARATING,
    )
    if status == Status.RUNNING:
        return _started(job_id)
    if status == Status.FAILED:
        job_publish(job_id=job_id)
    return None


def job_mark_dispatched(*, job_id: int) -> bool:
    """Note that a queued job's message was just handed to the broker (for the sweep)."""
    return job_state.mark_dispatched(SeparationJob, pk=job_id)


def job_claim_next(*, worker_id: str) -> SeparationJob | None:
    """Claim the job that has waited longest, skipping any another worker just took."""
    return job_state.claim_next(
        SeparationJob, lambda job_id: job_claim(job_id=job_id, worker_id=worker_id)
    )


def job_heartbeat(*, job_id: int, worker_id: str, progress: int, phase: str | None = None) -> None:
    """Record progress (and the phase, when given) and that the worker is alive; JobLost
    when the claim is gone: the job was cancelled, recovered by another worker or deleted."""
    fields = {} if phase is None else {"phase": phase}
    if not job_state.heartbeat(
        SeparationJob, pk=job_id, worker_id=worker_id, progress=progress, **fields
    ):
        raise JobLost


def job_finish(*, job_id: int, worker_id: str) -> bool:
    """Mark a claimed job done (the caller records its files in the same transaction)."""
    return job_state.finish(SeparationJob, pk=job_id, worker_id=worker_id, phase="")


def job_fail(*, job_id: int, worker_id: str, reason: str) -> bool:
    failed = job_state.fail(SeparationJob, pk=job_id, worker_id=worker_id, reason=reason)
    if failed:
        job_publish(job_id=job_id)
    return failed


def job_release(*, job_id: int, worker_id: str) -> bool:
    """Give a running job back to the queue (the worker is stopping)."""
    released = job_state.release(SeparationJob, pk=job_id, worker_id=worker_id, phase="")
    if released:
        job_publish(job_id=job_id)
    return released


def job_requeue(*, job_id: int) -> bool:
    """Queue a failed or cancelled job again. Returns False when it was not retryable."""
    return job_state.requeue(
        SeparationJob, pk=job_id, statuses=(Status.FAILED, Status.CANCELLED), phase=""
    )


def job_mark_cancelled(*, job_id: int) -> bool:
    """Cancel a queued or running job. Returns False when it was neither.

    A running job's worker is not told: its claim (`objects.claimed`) no longer matches, so
    its next progress report finds the job gone and it stops, deleting what it made."""
    now = timezone.now()
    return bool(
        SeparationJob.objects.filter(id=job_id)
        .active()
        .update(status=Status.CANCELLED, phase="", finished_at=now, updated_at=now)
    )


def job_take_back(*, job_id: int, claimed_by: str, attempts: int, max_attempts: int) -> str | None:
    """Take a job back from a dead worker's claim: queued again, or failed once it has been
    attempted ``max_attempts`` times (so a job that kills workers cannot crash-loop them).
    Returns the new status, or None when the claim had already changed."""
    status = job_state.take_back(
        SeparationJob,
        pk=job_id,
        claimed_by=claimed_by,
        attempts=attempts,
        max_attempts=max_attempts,
        reason=TOO_MANY_ATTEMPTS,
        phase="",
    )
    if status is not None:
        job_publish(job_id=job_id)
    return status
