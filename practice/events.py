"""Live events about renders (exports). The row is the truth; an event is a snapshot of it,
sent to the users who asked for it (and checked against the track's access rule again by
the socket before it leaves)."""

from datetime import datetime
from typing import Literal

from django.urls import reverse

from notifications.events import Event, publish
from practice.models import Render

PROGRESS = "practice.progress"
DONE = "practice.done"
FAILED = "practice.failed"


class RenderEvent(Event):
    type: Literal["practice.progress", "practice.done", "practice.failed"]
    render_id: int
    track_id: str
    title: str
    label: str  # "Mix, vocals 10 %, tempo 75 %, MP3"
    status: str
    status_label: str  # what the page shows: "Rendering 40%"
    progress: int
    error: str
    message: str  # a toast for the outcomes; "" otherwise
    status_url: str
    download_url: str  # "" until done


def render_urls(render: Render) -> dict[str, str]:
    args = [render.track_id, render.id]
    done = render.status == Render.Status.DONE
    return {
        "status_url": reverse("practice:status", args=args),
        "download_url": reverse("practice:download", args=args) if done else "",
    }


def event_from_render(render: Render, audience: list[int]) -> RenderEvent:
    title = render.track.title
    if render.status == Render.Status.DONE:
        kind, message = DONE, f"Your export of “{title}” is ready: {render.label}."
    elif render.status == Render.Status.FAILED:
        kind, message = FAILED, f"The export of “{title}” failed: {render.error}"
    else:
        kind, message = PROGRESS, ""
    return RenderEvent(
        type=kind,
        audience=audience,
        key=f"render.{render.id}",
        render_id=render.id,
        track_id=str(render.track_id),
        title=title,
        label=render.label,
        status=render.status,
        status_label=render.status_label,
        progress=render.progress,
        error=render.error,
        message=message,
        **render_urls(render),
    )


def render_publish(*, render_id: int) -> None:
    render = Render.objects.select_related("track").filter(id=render_id).first()
    if render is None:
        return
    audience = sorted(render.requesters.values_list("id", flat=True))
    if audience:
        publish(event_from_render(render, audience))


def render_events_changed_since(
    user_ids: frozenset[int], since: datetime
) -> tuple[list[RenderEvent], datetime]:
    """The relay source (embedded mode): events for the users' renders written at or after
    `since`, and the newest write seen."""
    renders = list(
        Render.objects.filter(requesters__in=user_ids, updated_at__gte=since)
        .distinct()
        .select_related("track")
        .order_by("updated_at", "id")
    )
    newest = max((render.updated_at for render in renders), default=since)
    return [
        event_from_render(render, sorted(render.requesters.values_list("id", flat=True)))
        for render in renders
    ], newest
