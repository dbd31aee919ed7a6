"""The one access rule: given a user and a track, what may they do with it?

Every view, media response, the notification socket and the admin's file links ask here.
Outsiders get a 404 — never a hint that the track exists; someone who may see a track but
not do what they asked gets a 403.

    NONE      not the owner, not a moderator (and, with bands, not a bandmate)
    LISTEN    play and download (bandmates, once bands exist: add them in `track_access`
              and `track_audience`, nowhere else)
    MANAGE    the owner: everything, including rename, delete, retry and cancel
    MODERATE  staff with the `tracks.moderate_track` permission: listen to and download
              any track, act on it in the admin
"""

import enum

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404

from tracks.models import Track

MODERATE_PERMISSION = "tracks.moderate_track"


class Access(enum.Enum):
    NONE = "none"
    LISTEN = "listen"
    MANAGE = "manage"
    MODERATE = "moderate"

    @property
    def can_listen(self) -> bool:
        return self is not Access.NONE

    @property
    def can_manage(self) -> bool:
        return self is Access.MANAGE

    @property
    def can_moderate(self) -> bool:
        return self is Access.MODERATE


def is_moderator(user: AbstractBaseUser | AnonymousUser) -> bool:
    return bool(
        user.is_authenticated
        and user.is_active
        and user.is_staff
        and user.has_perm(MODERATE_PERMISSION)
    )


def track_access(user: AbstractBaseUser | AnonymousUser, track: Track) -> Access:
    if not user.is_authenticated or not user.is_active:
        return Access.NONE
    if track.owner_id == user.pk:
        return Access.MANAGE
    if is_moderator(user):
        return Access.MODERATE
    return Access.NONE


def track_audience(track: Track) -> list[int]:
    """The users who hear live news of the track (its job's progress): who may listen to it
    in their own library. Moderators look in the admin and are not in it."""
    return [track.owner_id]


def tracks_heard_by(*, user_id: int) -> QuerySet[Track]:
    """The tracks whose audience includes the user (the other side of `track_audience`)."""
    return Track.objects.filter(owner_id=user_id)


def get_track_or_404(
    user: AbstractBaseUser | AnonymousUser, track_id, *, need: str = "listen"
) -> tuple[Track, Access]:
    """The track and what the user may do with it, or 404 (cannot see it) / 403 (can see it
    but not do ``need``: "listen", "manage" or "moderate")."""
    track = (
        Track.objects.select_related("owner", "job")
        .prefetch_related("assets")
        .filter(id=track_id)
        .first()
    )
    access = track_access(user, track) if track is not None else Access.NONE
    if not access.can_listen:
        raise Http404("No such track.")
    if not getattr(access, f"can_{need}"):
        raise PermissionDenied
    return track, access
