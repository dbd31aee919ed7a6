"""Every change of a job's state, each a conditional UPDATE on the row.

Two workers can never both own a job, and a worker that lost its claim (the job was
recovered, cancelled or deleted) can never overwrite a newer state: each write a worker
makes goes through `SeparationJob.objects.claimed(...)`. Events are sent after the row
changed and only describe it.
"""

import os
import socket
import uuid

from django.db.models import F
from django.utils import timezone

from separation.events import job_publish
from separation.models import SeparationJob

Status = SeparationJob.Status
TOO_MANY_ATTEMPTS = "The worker stopped while separating this track too many times."


class JobLost(Exception):
    """The job is no longer ours (deleted, or handed to another worker)."""


def worker_identity() -> str:
    """`host:pid:token`, unique per worker run; lets recovery spot a dead worker on this host."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def claimer_is_dead(claimed_by: str) -> bool:
    """True when the claiming worker ran on this host and its process is gone."""
    host, _, rest = claimed_by.partition(":")
    pid_text = rest.partition(":")[0]
    if host != socket.gethostname() or not pid_text.isdigit():
        return False
    pid = int(pid_text)
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def job_claim(*, job_id: int, worker_id: str) -> SeparationJob | None:
    """Take a queued job. Only one caller can win: the update is conditional on `queued`."""
    claimed = SeparationJob.objects.filter(id=job_id, status=Status.QUEUED).update(
        status=Status.RUNNING, finished_at=None, **_run_started(worker_id)
    )
    return _started(job_id) if claimed == 1 else None


def _run_started(worker_id: str) -> dict:
    """The fields a run sets on its job when it starts: whose it is, one more attempt."""
    now = timezone.now()
    return {
        "claimed_by": worker_id,
        "attempts": F("attempts") + 1,
        "progress": 0,
        "phase": SeparationJob.Phase.SEPARATING,
        "error": "",
        "started_at": now,
        "heartbeat_at": now,
        "updated_at": now,
    }


def _started(job_id: int) -> SeparationJob:
    job_publish(job_id=job_id)
    return SeparationJob.objects.select_related("track").get(id=job_id)


def job_take_over(
    *, job_id: int, worker_id: str, stale_before, max_attempts: int
) -> SeparationJob | None:
    """Take a job left `running` by a dead worker (its process is gone from this host, or
    its heartbeat is older than ``stale_before``): the broker delivered its message again.
    Once it has been attempted ``max_attempts`` times it is failed instead. Only one caller
    can win: the update is conditional on the dead worker's claim."""
    row = (
        SeparationJob.objects.filter(id=job_id, status=Status.RUNNING)
        .values("claimed_by", "heartbeat_at", "attempts")
        .first()
    )
    if row is None:
        return None
    stale = row["heartbeat_at"] is None or row["heartbeat_at"] < stale_before
    if not (stale or claimer_is_dead(row["claimed_by"])):
        return None  # alive: a duplicate message, the job is in good hands
    if row["attempts"] >= max_attempts:
        job_take_back(
            job_id=job_id,
            claimed_by=row["claimed_by"],
            attempts=row["attempts"],
            max_attempts=max_attempts,
        )
        return None
    taken = SeparationJob.objects.claimed(job_id=job_id, worker_id=row["claimed_by"]).update(
        **_run_started(worker_id)
    )
    return _started(job_id) if taken == 1 else None


def job_mark_dispatched(*, job_id: int) -> bool:
    """Note that a queued job's message was just handed to the broker (for the sweep)."""
    return bool(
        SeparationJob.objects.filter(id=job_id, status=Status.QUEUED).update(
            dispatched_at=timezone.now()
        )
    )


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


def job_heartbeat(*, job_id: int, worker_id: str, progress: int, phase: str | None = None) -> None:
    """Record progress (and the phase, when given) and that the worker is alive; JobLost
    when the claim is gone: the job was cancelled, recovered by another worker or deleted."""
    stamp = timezone.now()
    fields = {"progress": progress, "heartbeat_at": stamp, "updated_at": stamp}
    if phase is not None:
        fields["phase"] = phase
    updated = SeparationJob.objects.claimed(job_id=job_id, worker_id=worker_id).update(**fields)
    if updated != 1:
        raise JobLost


def job_finish(*, job_id: int, worker_id: str) -> bool:
    """Mark a claimed job done (the caller records its files in the same transaction)."""
    now = timezone.now()
    return bool(
        SeparationJob.objects.claimed(job_id=job_id, worker_id=worker_id).update(
            status=Status.DONE, progress=100, phase="", finished_at=now, updated_at=now
        )
    )


def job_fail(*, job_id: int, worker_id: str, reason: str) -> bool:
    now = timezone.now()
    updated = SeparationJob.objects.claimed(job_id=job_id, worker_id=worker_id).update(
        status=Status.FAILED, error=reason[:500], finished_at=now, updated_at=now
    )
    if updated:
        job_publish(job_id=job_id)
    return bool(updated)


def job_release(*, job_id: int, worker_id: str) -> bool:
    """Give a running job back to the queue (the worker is stopping)."""
    now = timezone.now()
    updated = SeparationJob.objects.claimed(job_id=job_id, worker_id=worker_id).update(
        status=Status.QUEUED,
        claimed_by="",
        heartbeat_at=None,
        progress=0,
        phase="",
        attempts=F("attempts") - 1,
        updated_at=now,
    )
    if updated:
        job_publish(job_id=job_id)
    return bool(updated)


def job_requeue(*, job_id: int) -> bool:
    """Queue a failed or cancelled job again. Returns False when it was not retryable."""
    now = timezone.now()
    return bool(
        SeparationJob.objects.filter(
            id=job_id, status__in=(Status.FAILED, Status.CANCELLED)
        ).update(
            status=Status.QUEUED,
            progress=0,
            phase="",
            error="",
            attempts=0,
            claimed_by="",
            heartbeat_at=None,
            started_at=None,
            finished_at=None,
            dispatched_at=None,
            updated_at=now,
        )
    )


def job_mark_cancelled(*, job_id: int) -> bool:
    """Cancel a queued or running job. Returns False when it was neither.

    A running job's worker is not told: its claim (`objects.claimed`) no longer matches, so
    its next progress report finds the job gone and it stops, deleting what it made."""
    now = timezone.now()
    return bool(
        SeparationJob.objects.filter(id=job_id, status__in=(Status.QUEUED, Status.RUNNING)).update(
            status=Status.CANCELLED, phase="", finished_at=now, updated_at=now
        )
    )


def job_take_back(*, job_id: int, claimed_by: str, attempts: int, max_attempts: int) -> str | None:
    """Take a job back from a dead worker's claim: queued again, or failed once it has been
    attempted ``max_attempts`` times (so a job that kills workers cannot crash-loop them).
    Returns the new status, or None when the claim had already changed."""
    now = timezone.now()
    same_claim = SeparationJob.objects.claimed(job_id=job_id, worker_id=claimed_by)
    if attempts >= max_attempts:
        status = Status.FAILED
        changed = same_claim.update(
            status=status, error=TOO_MANY_ATTEMPTS, finished_at=now, updated_at=now
        )
    else:
        status = Status.QUEUED
        changed = same_claim.update(
            status=status,
            claimed_by="",
            heartbeat_at=None,
            progress=0,
            phase="",
            updated_at=now,
        )
    if not changed:
        return None
    job_publish(job_id=job_id)
    return status
