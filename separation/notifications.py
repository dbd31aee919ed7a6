"""Events about separation jobs, pushed to the owner's notification sockets.

The job row is the source of truth; an event is a snapshot of it. Events go to the group
`user.<owner id>` only. The worker publishes through the channel layer (channels-redis
carries them across processes); without one, NotificationConsumer relays the same events
from the user's job rows (see docs/architecture.md).
"""

import logging
from datetime import datetime
from typing import Literal, TypedDict

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

from separation.models import SeparationJob

logger = logging.getLogger(__name__)

PROGRESS = "separation.progress"
DONE = "separation.done"
FAILED = "separation.failed"


class ProgressEvent(TypedDict):
    type: Literal["separation.progress"]
    owner_id: int
    job_id: int
    track_id: str
    title: str
    status: str  # queued, running or cancelled
    progress: int


class DoneEvent(TypedDict):
    type: Literal["separation.done"]
    owner_id: int
    job_id: int
    track_id: str
    title: str
    status: Literal["done"]
    progress: int


class FailedEvent(TypedDict):
    type: Literal["separation.failed"]
    owner_id: int
    job_id: int
    track_id: str
    title: str
    status: Literal["failed"]
    progress: int
    error: str


JobEvent = ProgressEvent | DoneEvent | FailedEvent

# The job columns an event is built from; the relay reads exactly these.
EVENT_FIELDS = ("id", "track_id", "track__owner_id", "track__title", "status", "progress", "error")


def user_group(user_id: int) -> str:
    return f"user.{user_id}"


def event_from_values(row: dict) -> JobEvent:
    base = {
        "owner_id": row["track__owner_id"],
        "job_id": row["id"],
        "track_id": str(row["track_id"]),
        "title": row["track__title"],
        "status": row["status"],
        "progress": row["progress"],
    }
    if row["status"] == SeparationJob.Status.DONE:
        return DoneEvent(type=DONE, **base)
    if row["status"] == SeparationJob.Status.FAILED:
        return FailedEvent(type=FAILED, error=row["error"], **base)
    return ProgressEvent(type=PROGRESS, **base)


def job_event(*, job_id: int) -> JobEvent | None:
    row = SeparationJob.objects.filter(id=job_id).values(*EVENT_FIELDS).first()
    return event_from_values(row) if row else None


def job_events_changed_since(*, user_id: int, since: datetime) -> tuple[list[JobEvent], datetime]:
    """Events for the user's jobs written at or after `since`, and the newest write seen."""
    rows = list(
        SeparationJob.objects.filter(track__owner_id=user_id, updated_at__gte=since)
        .order_by("updated_at", "id")
        .values(*EVENT_FIELDS, "updated_at")
    )
    newest = max((row["updated_at"] for row in rows), default=since)
    return [event_from_values(row) for row in rows], newest


def job_publish(*, job_id: int) -> None:
    """Send the job's current state to its owner's group. Best effort: the row stays the truth,
    so a channel layer that is down is logged, never raised into the job."""
    event = job_event(job_id=job_id)
    if event is None:
        return
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        async_to_sync(layer.group_send)(user_group(event["owner_id"]), dict(event))
    except Exception:  # a notification must never fail the job
        logger.warning("Could not publish %s for job %s", event["type"], job_id, exc_info=True)
