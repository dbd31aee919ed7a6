"""Live events about separation jobs. The job row is the source of truth; an event is a
snapshot of it, sent to the track's audience (the one access rule decides who that is)."""

from datetime import datetime
from typing import Literal

from notifications.events import Event, publish
from separation.models import SeparationJob
from tracks.access import track_audience, tracks_heard_by_any

PROGRESS = "separation.progress"
DONE = "separation.done"
FAILED = "separation.failed"


class JobEvent(Event):
    type: Literal["separation.progress", "separation.done", "separation.failed"]
    job_id: int
    track_id: str
    title: str
    status: str
    status_label: str  # what the page shows: "Separating 42%", "Drawing waveforms 80%"
    progress: int
    phase: str  # while running: "separating", "waveforms", "storing"; "" otherwise
    error: str
    message: str  # a toast for the outcomes (done, failed); "" otherwise


def event_from_job(job: SeparationJob) -> JobEvent:
    track = job.track
    if job.status == SeparationJob.Status.DONE:
        kind, message = DONE, f"The jam track of “{track.title}” is ready."
    elif job.status == SeparationJob.Status.FAILED:
        kind, message = FAILED, f"“{track.title}” failed: {job.error}"
    else:
        kind, message = PROGRESS, ""
    return JobEvent(
        type=kind,
        audience=track_audience(track),
        key=f"job.{job.id}",
        job_id=job.id,
        track_id=str(track.id),
        title=track.title,
        status=job.status,
        status_label=job.status_label,
        progress=job.progress,
        phase=job.phase if job.status == SeparationJob.Status.RUNNING else "",
        error=job.error,
        message=message,
    )


def job_event(*, job_id: int) -> JobEvent | None:
    job = SeparationJob.objects.select_related("track").filter(id=job_id).first()
    return event_from_job(job) if job else None


def job_publish(*, job_id: int) -> None:
    event = job_event(job_id=job_id)
    if event is not None:
        publish(event)


def job_events_changed_since(
    user_ids: frozenset[int], since: datetime
) -> tuple[list[JobEvent], datetime]:
    """The relay source: events for jobs any of the users hears of, written at or after
    `since`, and the newest write seen."""
    jobs = list(
        SeparationJob.objects.filter(
            track__in=tracks_heard_by_any(user_ids=user_ids), updated_at__gte=since
        )
        .select_related("track")
        .order_by("updated_at", "id")
    )
    newest = max((job.updated_at for job in jobs), default=since)
    return [event_from_job(job) for job in jobs], newest
