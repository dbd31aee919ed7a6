"""Getting jobs to workers: queue a new upload, retry, cancel, and recover the jobs of
workers that died. Workers hear of a job only after its row is committed."""

import logging
from datetime import timedelta
from functools import partial

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.utils import timezone
from kombu.exceptions import OperationalError as BrokerUnreachable

from jobs.state import dead_claims, waiting_to_send
from separation.events import job_publish
from separation.models import SeparationJob
from separation.services.state import (
    job_mark_cancelled,
    job_mark_dispatched,
    job_requeue,
    job_take_back,
)
from separation.tasks import separate_task
from tracks.models import Track
from tracks.services import TrackUploadError, track_sweep_unreferenced_files, track_upload

logger = logging.getLogger(__name__)
Status = SeparationJob.Status


class JobLimitReached(TrackUploadError):
    """The owner already has JAM_USER_MAX_ACTIVE_JOBS songs queued or separating."""


def job_limit_check(*, owner_id) -> None:
    """JobLimitReached when the owner may not queue another separation now."""
    limit = settings.JAM_USER_MAX_ACTIVE_JOBS
    active = SeparationJob.objects.filter(track__owner_id=owner_id).active().count()
    if active >= limit:
        raise JobLimitReached(
            f"You already have {active} song{'s' if active != 1 else ''} waiting for or in "
            f"separation (the limit is "
            f"{limit}). Add more once one of them is done."
        )


def track_submit(
    *,
    owner: AbstractBaseUser,
    upload: UploadedFile,
    title: str = "",
    quality: str = SeparationJob.Quality.STANDARD,
) -> Track:
    """Store an uploaded song and queue its separation at ``quality``, in one transaction."""
    job_limit_check(owner_id=owner.pk)  # early, before the upload is decoded and stored

    def queue(track: Track) -> None:
        job_limit_check(owner_id=owner.pk)  # again, under the upload's lock on the owner
        job_enqueue(track=track, quality=quality)

    return track_upload(owner=owner, upload=upload, title=title, then=queue)


def job_enqueue(*, track: Track, quality: str = SeparationJob.Quality.STANDARD) -> SeparationJob:
    """Create the queued job for a new track; workers hear of it only after commit."""
    job = SeparationJob.objects.create(track=track, quality=SeparationJob.Quality(quality))
    # robust: nothing that goes wrong after the commit may undo the upload or answer a 500.
    transaction.on_commit(lambda: job_dispatch(job_id=job.id), robust=True)
    return job


def job_dispatch(*, job_id: int) -> None:
    """Hand a committed queued job to the workers. Embedded workers poll the table; in the
    scale-out mode a thin Celery task takes the id. A broker that is down is logged and the
    row stays queued, never sent: the sweep (`job_sweep`) sends it once the broker is back."""
    if settings.SEPARATION_DISPATCH == "celery":
        _send(job_id=job_id)
    job_publish(job_id=job_id)


def _send(*, job_id: int) -> bool:
    try:
        # The queue named here, not only in CELERY_TASK_ROUTES: the setting decides (GPU
        # workers take `separation-gpu`), even where Celery's router was built before it.
        separate_task.apply_async((job_id,), queue=settings.SEPARATION_QUEUE)
    except BrokerUnreachable:
        logger.warning("Could not send job %s to the broker; the sweep will", job_id, exc_info=True)
        return False
    job_mark_dispatched(job_id=job_id)
    return True


def job_retry(*, job: SeparationJob, owner_limit: bool = True) -> bool:
    """Queue a failed or cancelled job again. Returns False when it was not retryable;
    JobLimitReached when its owner has too many songs in the queue already (unless
    ``owner_limit`` is off: a moderator's retry)."""
    retryable = SeparationJob.objects.filter(
        id=job.id, status__in=(Status.FAILED, Status.CANCELLED)
    ).values_list("track__owner_id", flat=True)
    owner_id = retryable.first()
    if owner_id is None:
        return False
    if owner_limit:
        job_limit_check(owner_id=owner_id)
    if not job_requeue(job_id=job.id):
        return False
    transaction.on_commit(lambda: job_dispatch(job_id=job.id), robust=True)
    return True


def job_cancel(*, job: SeparationJob) -> bool:
    """Cancel a queued or running job (a worker running it stops at its next progress
    report and deletes what it made). Returns False when it was neither."""
    if not job_mark_cancelled(job_id=job.id):
        return False
    transaction.on_commit(partial(job_publish, job_id=job.id))
    return True


def job_recover_orphans() -> list[int]:
    """Take back jobs left `running` by a worker that died: its process is gone (same host)
    or its heartbeat is older than SEPARATION_STALE_AFTER_S. They are queued (and sent to
    the workers) again, or failed after SEPARATION_MAX_ATTEMPTS."""
    stale_before = timezone.now() - timedelta(seconds=settings.SEPARATION_STALE_AFTER_S)
    recovered = []
    for row in dead_claims(SeparationJob, stale_before=stale_before, fields=("track_id",)):
        status = job_take_back(
            job_id=row["id"],
            claimed_by=row["claimed_by"],
            attempts=row["attempts"],
            max_attempts=settings.SEPARATION_MAX_ATTEMPTS,
        )
        if status is None:
            continue  # it finished or moved on meanwhile: nothing of it is ours to touch
        logger.warning("Recovered job %s left running by %s", row["id"], row["claimed_by"])
        recovered.append(row["id"])
        if status == Status.FAILED:
            # Failed for good: no run will follow to sweep what the dead one left, and the
            # old claim can no longer record anything.
            track_sweep_unreferenced_files(track_id=row["track_id"])
        elif settings.SEPARATION_DISPATCH == "celery":
            transaction.on_commit(partial(_send_if_queued, job_id=row["id"]))
    return recovered


def _send_if_queued(*, job_id: int) -> None:
    if SeparationJob.objects.filter(id=job_id, status=Status.QUEUED).exists():
        _send(job_id=job_id)


def job_redispatch_waiting() -> list[int]:
    """The outbox sweep of the scale-out mode: send again each queued job never sent (the
    broker was down at the upload; not one queued in the last seconds, whose own send is
    under way) or last sent more than SEPARATION_REDISPATCH_AFTER_S ago (its message may be
    lost). The row is the truth; a duplicate message finds the job claimed and does nothing."""
    sent = []
    waiting = waiting_to_send(SeparationJob, resend_after_s=settings.SEPARATION_REDISPATCH_AFTER_S)
    for job_id in waiting:
        if not _send(job_id=job_id):
            break  # the broker is still down: the next sweep tries again
        sent.append(job_id)
    if sent:
        logger.info("Sent %d waiting job(s) to the broker again: %s", len(sent), sent)
    return sent


def job_sweep() -> None:
    """What every Celery worker does every SEPARATION_SWEEP_EVERY_S: take back dead
    workers' jobs (and send them again), then send queued jobs whose message may be lost."""
    job_recover_orphans()
    if settings.SEPARATION_DISPATCH == "celery":
        job_redispatch_waiting()
