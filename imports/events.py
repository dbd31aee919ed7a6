"""Live events about imports, the same shape as a separation's (`separation.events`), so the
library's rows and the track page show "Fetching 42%" as they show "Separating 42%"."""

from datetime import datetime
from typing import Literal

from imports.models import ImportJob
from notifications.events import Event, publish
from tracks.access import track_audience, tracks_heard_by_any

PROGRESS = "imports.progress"
DONE = "imports.done"
FAILED = "imports.failed"


class ImportEvent(Event):
    type: Literal["imports.progress", "imports.done", "imports.failed"]
    job_id: int
    track_id: str
    title: str
    status: str
    status_label: str
    progress: int
    phase: str
    error: str
    message: str


def event_from_import(job: ImportJob) -> ImportEvent:
    track = job.track
    status, label = job.status, job.status_label
    if job.status == ImportJob.Status.DONE:
        # The song is here and its separation queued with it: that is what the track is now
        # (and the separation's own events tell the rest, its "done" toast included).
        kind, message, status, label = DONE, "", "queued", "Queued"
    elif job.status == ImportJob.Status.FAILED:
        kind, message = FAILED, f"“{track.title}” could not be imported: {job.error}"
    else:
        kind, message = PROGRESS, ""
    return ImportEvent(
        type=kind,
        audience=track_audience(track),
        key=f"import.{job.id}",
        job_id=job.id,
        track_id=str(track.id),
        title=track.title,
        status=status,
        status_label=label,
        progress=job.progress,
        phase=job.phase if job.status == ImportJob.Status.RUNNING else "",
        error=job.error,
        message=message,
    )


def import_publish(*, job_id: int) -> None:
    job = ImportJob.objects.select_related("track").filter(id=job_id).first()
    if job is not None:
        publish(event_from_import(job))


def import_events_changed_since(
    user_ids: frozenset[int], since: datetime
) -> tuple[list[ImportEvent], datetime]:
    """The relay source (the embedded mode): imports any of the users hears of, written at
    or after `since`, and the newest write seen."""
    jobs = list(
        ImportJob.objects.filter(
            track__in=tracks_heard_by_any(user_ids=user_ids), updated_at__gte=since
        )
        .select_related("track")
        .order_by("updated_at", "id")
    )
    newest = max((job.updated_at for job in jobs), default=since)
    return [event_from_import(job) for job in jobs], newest
