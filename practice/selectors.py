from collections.abc import Callable

from django.contrib.auth import get_user_model

from practice.models import Render
from tracks.access import track_access
from tracks.models import Track


def renders_of(track: Track, user, *, limit: int = 20) -> list[Render]:
    """The exports of ``track`` the user asked for, newest first."""
    renders = track.renders.filter(requesters=user).order_by("-created_at", "-id")[:limit]
    for render in renders:
        render.track = track
    return list(renders)


def render_still_heard(*, user_id, render_id: int) -> Callable[[], bool]:
    """For a download in progress: may this user still hear everything the render holds?"""

    def check() -> bool:
        user = get_user_model().objects.filter(pk=user_id).first()
        render = Render.objects.select_related("track__owner").filter(id=render_id).first()
        if user is None or render is None:
            return False
        access = track_access(user, render.track)
        return all(access.can_hear(part) for part in render.parts)

    return check
