"""Getting separations to workers: queue a new upload, retry, cancel. Sending, recovering
dead workers' jobs and the sweep are the one pipeline's (`jobs.services`), for every kind."""

import logging
import uuid
from functools import partial

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.template.defaultfilters import filesizeformat

from jobs import services as jobs
from separation.events import job_publish
from separation.kind import SEPARATION
from separation.models import SeparationJob
from separation.services.state import job_mark_cancelled, job_requeue
from tracks.models import DirectUpload, Track
from tracks.selectors import storage_use_for_user
from tracks.services import (
    DirectUploadPlan,
    TrackUploadError,
    track_direct_finish,
    track_direct_start,
    track_for_upload_key,
    track_upload,
)

logger = logging.getLogger(__name__)
Status = SeparationJob.Status


class JobLimitReached(TrackUploadError):
    """The owner already has JAM_USER_MAX_ACTIVE_JOBS songs queued or separating."""


def job_limit_check(*, owner_id) -> None:
    """JobLimitReached when the owner may not queue another separation now."""
    limit = settings.JAM_USER_MAX_ACTIVE_JOBS
    mine = SeparationJob.objects.filter(track__owner_id=owner_id, background=False)
    active = mine.active().count()
    if active >= limit:
        raise JobLimitReached(
            f"You already have {active} song{'s' if active != 1 else ''} waiting for or in "
            f"separation (the limit is "
            f"{limit}). Add more once one of them is done."
        )


def upload_precheck(*, owner_id, body_bytes: int | None) -> None:
    """TrackUploadError when an upload of ``body_bytes`` (the request's Content-Length less
    its framing; None: unknown) by the owner would be refused anyway, checked from the
    request's head before its body is read (`separation.precheck`): the songs queued or
    separating, and a quota the file alone would overflow (the stems it makes are counted
    once the upload is read)."""
    job_limit_check(owner_id=owner_id)
    if not body_bytes:
        return
    use = storage_use_for_user(user_id=owner_id)
    if use.quota_bytes and use.used_bytes + body_bytes > use.quota_bytes:
        left = max(0, use.quota_bytes - use.used_bytes)
        raise TrackUploadError(
            f"That file is bigger than the room left in your storage: it is more than "
            f"{filesizeformat(body_bytes)}, and you have {filesizeformat(left)} of your "
            f"{filesizeformat(use.quota_bytes)} left. Delete some tracks to make room."
        )


def track_submit(
    *,
    owner: AbstractBaseUser,
    upload: UploadedFile,
    title: str = "",
    quality: str = SeparationJob.Quality.STANDARD,
    upload_key: uuid.UUID | None = None,
) -> Track:
    """Store an uploaded song and queue its separation at ``quality``, in one transaction.
    A retry with the ``upload_key`` of an upload that made a track returns that track."""
    existing = track_for_upload_key(owner_id=owner.pk, upload_key=upload_key)
    if existing is not None:
        return existing  # the first attempt's answer was lost, not its track
    job_limit_check(owner_id=owner.pk)  # early, before the upload is decoded and stored
    return track_upload(
        owner=owner,
        upload=upload,
        title=title,
        upload_key=upload_key,
        then=partial(_queue_checked, owner_id=owner.pk, quality=quality),
    )


def _queue_checked(track: Track, *, owner_id, quality: str) -> None:
    job_limit_check(owner_id=owner_id)  # again, under the upload's lock on the owner
    job_enqueue(track=track, quality=quality)


def track_direct_submit_start(
    *,
    owner: AbstractBaseUser,
    upload_key: uuid.UUID,
    filename: str,
    size: int,
    title: str = "",
    quality: str = SeparationJob.Quality.STANDARD,
) -> DirectUploadPlan | Track:
    """Sign (or resume) an upload straight to the bucket; the per-user limits that can be
    checked before the bytes arrive are checked here (and again at the finish)."""
    existing = track_for_upload_key(owner_id=owner.pk, upload_key=upload_key)
    if existing is not None:
        return existing
    job_limit_check(owner_id=owner.pk)
    return track_direct_start(
        owner=owner,
        upload_key=upload_key,
        filename=filename,
        size=size,
        title=title,
        options={"quality": SeparationJob.Quality(quality).value},
    )


def track_direct_submit_finish(*, owner: AbstractBaseUser, upload: DirectUpload) -> Track:
    """Verify a direct upload and make its track, queueing its separation, as an upload."""
    quality = upload.options.get("quality", SeparationJob.Quality.STANDARD)
    job_limit_check(owner_id=owner.pk)
    return track_direct_finish(
        owner=owner,
        upload=upload,
        then=partial(_queue_checked, owner_id=owner.pk, quality=quality),
    )


def job_enqueue(*, track: Track, quality: str = SeparationJob.Quality.STANDARD) -> SeparationJob:
    """Create the queued job for a new track; workers hear of it only after commit."""
    job = SeparationJob.objects.create(track=track, quality=SeparationJob.Quality(quality))
    jobs.job_dispatch_on_commit(SEPARATION, job_id=job.id)
    return job


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
    return job_requeue(job_id=job.id)


def job_cancel(*, job: SeparationJob) -> bool:
    """Cancel a queued or running job (a worker running it stops at its next progress
    report and deletes what it made). Returns False when it was neither."""
    if not job_mark_cancelled(job_id=job.id):
        return False
    transaction.on_commit(partial(job_publish, job_id=job.id))
    return True
