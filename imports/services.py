"""Adding a song from a link: queue its fetch (with the same per-user limits as an upload,
and a rate of imports), cancel it, retry it. The fetch itself is the worker's
(`imports.work`); the web process never opens a connection to the link."""

import time
from functools import partial
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone

from imports.events import import_publish
from imports.guard import Policy
from imports.kind import IMPORT
from imports.models import ImportJob
from jobs import services as jobs
from separation.models import SeparationJob
from tracks.models import Track
from tracks.services import TrackUploadError, track_create_for_import, track_quota_check

Status = ImportJob.Status


class ImportRefused(TrackUploadError):
    """An import we refuse at once: the message is shown as is."""


def import_policy() -> Policy:
    """What the guard lets an import reach, from the JAM_IMPORT_* settings."""
    test_allow = None
    if settings.JAM_IMPORT_TEST_ALLOW:
        host, _, port = settings.JAM_IMPORT_TEST_ALLOW.rpartition(":")
        if host != "127.0.0.1":
            raise ValueError("JAM_IMPORT_TEST_ALLOW names only a 127.0.0.1 address and port")
        test_allow = (host, int(port))
    upstream = None
    if settings.JAM_IMPORT_PROXY:
        parts = urlsplit(settings.JAM_IMPORT_PROXY)
        upstream = (parts.hostname or "", parts.port or 3128)
    return Policy(
        ports=frozenset(settings.JAM_IMPORT_PORTS),
        allow_domains=tuple(d.lower().strip(".") for d in settings.JAM_IMPORT_ALLOW_DOMAINS),
        block_domains=tuple(d.lower().strip(".") for d in settings.JAM_IMPORT_BLOCK_DOMAINS),
        test_allow=test_allow,
        upstream=upstream,
    )


def active_jobs_check(*, owner_id) -> None:
    """ImportRefused when the owner has JAM_USER_MAX_ACTIVE_JOBS songs on their way already,
    fetching or separating."""
    limit = settings.JAM_USER_MAX_ACTIVE_JOBS
    active = (
        SeparationJob.objects.filter(track__owner_id=owner_id).active().count()
        + ImportJob.objects.filter(track__owner_id=owner_id).active().count()
    )
    if active >= limit:
        raise ImportRefused(
            f"You already have {active} song{'s' if active != 1 else ''} being fetched or "
            f"separated (the limit is {limit}). Add more once one of them is done."
        )


def import_rate_check(*, owner_id) -> None:
    """ImportRefused past JAM_IMPORTS_PER_HOUR imports by one user in the current hour."""
    key = f"import-rate:{owner_id}:{int(time.time() // 3600)}"
    cache.add(key, 0, timeout=7200)
    try:
        count = cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, timeout=7200)
        count = 1
    if count > settings.JAM_IMPORTS_PER_HOUR:
        raise ImportRefused(
            f"You have added {settings.JAM_IMPORTS_PER_HOUR} songs from links this hour, the "
            "most there may be. Try again later."
        )


def clean_link(url: str) -> str:
    """The link as given, if it can be one we fetch; ImportRefused otherwise. The guard
    checks its address in the worker, and every address it leads to."""
    url = (url or "").strip()
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise ImportRefused("Paste a link that starts with http:// or https://.")
    if len(url) > 2000:
        raise ImportRefused("That link is too long.")
    if parts.username or parts.password:
        raise ImportRefused("Links with a user name or password cannot be imported.")
    return url


def import_submit(
    *, owner: AbstractBaseUser, url: str, title: str = "", quality: str = "standard"
) -> Track:
    """Create the track and queue the fetch of ``url``, in one transaction: the song joins
    the library at once and the worker fetches it."""
    if not settings.JAM_IMPORT_ENABLED:
        raise ImportRefused("Adding songs from links is switched off on this site.")
    url = clean_link(url)
    active_jobs_check(owner_id=owner.pk)
    track_quota_check(owner_id=owner.pk, needed_bytes=0)  # a full library takes none
    import_rate_check(owner_id=owner.pk)

    def queue(track: Track) -> None:
        job = ImportJob.objects.create(track=track, url=url, quality=quality)
        jobs.job_dispatch_on_commit(IMPORT, job_id=job.id)

    host = urlsplit(url).hostname or ""
    return track_create_for_import(
        owner=owner, title=title or f"From {host}", source_url=url, then=queue
    )


def import_retry(*, job: ImportJob) -> bool:
    """Queue a failed or cancelled import again (the owner's active songs permitting)."""
    if not ImportJob.objects.filter(id=job.id, status__in=(Status.FAILED, Status.CANCELLED)):
        return False
    active_jobs_check(owner_id=job.track.owner_id)
    return jobs.job_requeue(IMPORT, job_id=job.id, statuses=(Status.FAILED, Status.CANCELLED))


def import_cancel(*, job: ImportJob) -> bool:
    """Cancel a queued or running import: a worker fetching it stops at its next progress
    report and keeps nothing. False when it was neither."""
    now = timezone.now()
    cancelled = (
        ImportJob.objects.filter(id=job.id)
        .active()
        .update(status=Status.CANCELLED, phase="", finished_at=now, updated_at=now)
    )
    if cancelled:
        transaction.on_commit(partial(import_publish, job_id=job.id))
    return bool(cancelled)
