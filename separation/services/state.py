"""The state changes only separations have: retrying a failed or cancelled one, and cancel.
Every other (claim, heartbeat, fail, release, recovery) is the one pipeline's, for every kind
(`jobs.services`)."""

from django.utils import timezone

from jobs import services
from separation.kind import SEPARATION
from separation.models import SeparationJob

Status = SeparationJob.Status


def job_requeue(*, job_id: int) -> bool:
    """Queue a failed or cancelled job again, sent to the workers on commit. Returns False
    when it was not retryable."""
    statuses = (Status.FAILED, Status.CANCELLED)
    return services.job_requeue(SEPARATION, job_id=job_id, statuses=statuses)


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
