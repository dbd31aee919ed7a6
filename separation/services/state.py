"""The separation kind's state changes: the generic ones of `jobs.services` bound to it, and
the one only separations have (cancel). Each is a conditional UPDATE on the row, then an
event; a worker that lost its claim can never overwrite a newer state."""

from functools import partial

from django.utils import timezone

from jobs import services
from separation.kind import SEPARATION
from separation.models import SeparationJob

Status = SeparationJob.Status

job_claim = partial(services.job_claim, SEPARATION)
job_claim_next = partial(services.job_claim_next, SEPARATION)
job_take_over = partial(services.job_take_over, SEPARATION)
job_fail = partial(services.job_fail, SEPARATION)
job_release = partial(services.job_release, SEPARATION)


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
