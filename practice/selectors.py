from collections.abc import Callable

from practice.models import Render
from tracks.access import Access, Need, still_allowed
from tracks.models import Track


def renders_of(track: Track, user, access: Access, *, limit: int = 20) -> list[Render]:
    """The exports of ``track`` the user may see and delete, newest first: for the owner,
    every export of the track (whoever asked; `asked_by` names the others who did, since it
    is her storage they take); for anyone else, those they asked for. Only those whose
    every part the user may still hear (as the status and download views check)."""
    renders = track.renders.prefetch_related("requesters").order_by("-created_at", "-id")
    if not access.can_manage:
        renders = renders.filter(requesters=user)
    listed = []
    for render in renders:
        if not access.can_export_all(render.parts):
            continue
        render.track = track
        render.asked_by = [
            asker.get_username() for asker in render.requesters.all() if asker.pk != user.pk
        ]
        listed.append(render)
        if len(listed) == limit:
            break
    return listed


def render_still_heard(*, user_id, render: Render) -> Callable[[], bool]:
    """For a download in progress: is the render still there, and may this user still
    export everything it holds (`tracks.access.still_allowed`)?"""
    hears = still_allowed(
        user_id=user_id, track_id=render.track_id, need=Need.EXPORT, parts=render.parts
    )
    return lambda: Render.objects.filter(id=render.id).exists() and hears()
