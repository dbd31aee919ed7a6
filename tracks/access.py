"""The one access rule: given a user and a track, what may they do with it?

Every view, media response, the notification socket and the admin's file links ask here.
Outsiders get a 404 — never a hint that the track exists; someone who may see a track but
not do what they asked gets a 403.

    NONE      anyone else; everyone but the owner and moderators once the track is hidden
              or its owner's account is inactive (suspended)
    JAM       a member of a band the track is shared with (or a share link), when the owner
              has not allowed the vocals: the jam track only
    LISTEN    the same with the vocals allowed: every part (the original holds the vocals)
    MANAGE    the owner: everything, including rename, delete, share, retry and cancel
    MODERATE  staff with the `tracks.moderate_track` permission: listen to and download
              any track, act on it in the admin
"""

import enum
from collections.abc import Callable, Iterable

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.core.exceptions import PermissionDenied
from django.db.models import Q, QuerySet
from django.http import Http404
from django.utils import timezone

from bands.selectors import member_ids
from catalog.stems import JAM_TRACK
from tracks.models import ShareLink, Track, TrackShare

MODERATE_PERMISSION = "tracks.moderate_track"


class Access(enum.Enum):
    NONE = "none"
    JAM = "jam"
    LISTEN = "listen"
    MANAGE = "manage"
    MODERATE = "moderate"

    @property
    def can_listen(self) -> bool:
        return self is not Access.NONE

    def can_hear(self, part: str) -> bool:
        """May hear this part ("original" or a stem name): play it, read its waveform and
        peaks, export a mix that holds it, and download it where a part may be downloaded at
        all (stems; never the original). It does not say whether the track has the part."""
        if self is Access.JAM:
            return part == JAM_TRACK
        return self.can_listen

    @property
    def hears_all(self) -> bool:
        """Every part, the original and the vocals included."""
        return self.can_listen and self is not Access.JAM

    @property
    def can_report(self) -> bool:
        """Anyone who can see a track but does not own or moderate it may report it."""
        return self in (Access.JAM, Access.LISTEN)

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


def _shared_access(track: Track) -> Access:
    return Access.LISTEN if track.share_vocals else Access.JAM


def is_shareable(track: Track) -> bool:
    """Shares and links work only while the track is visible and its owner active."""
    return not track.is_hidden and track.owner.is_active


def track_access(
    user: AbstractBaseUser | AnonymousUser, track: Track, *, in_shared_band: bool | None = None
) -> Access:
    """``in_shared_band``: whether the user is in a band the track is shared with, when the
    caller already knows (`track_access_many`); else it is looked up."""
    if not user.is_authenticated or not user.is_active:
        return Access.NONE
    if track.owner_id == user.pk:
        return Access.MANAGE
    if is_moderator(user):
        return Access.MODERATE
    if not is_shareable(track):
        return Access.NONE
    if in_shared_band is None:
        in_shared_band = track.shares.filter(band__memberships__user_id=user.pk).exists()
    return _shared_access(track) if in_shared_band else Access.NONE


def track_access_many(
    user: AbstractBaseUser | AnonymousUser, tracks: list[Track]
) -> list[tuple[Track, Access]]:
    """`track_access` for a page of tracks in one query, not one per track (none when they
    are all the user's own)."""
    shared = set()
    others = [track for track in tracks if track.owner_id != user.pk]
    if user.is_authenticated and others:
        shared = set(
            TrackShare.objects.filter(
                track__in=others, band__memberships__user_id=user.pk
            ).values_list("track_id", flat=True)
        )
    return [
        (track, track_access(user, track, in_shared_band=track.id in shared)) for track in tracks
    ]


def link_access(link: ShareLink) -> Access:
    """What a share link lets anyone holding it do: the bandmates' access, read-only, while
    the link is neither revoked nor expired and the track is shareable."""
    if link.revoked_at is not None or (link.expires_at and link.expires_at <= timezone.now()):
        return Access.NONE
    if not is_shareable(link.track):
        return Access.NONE
    return _shared_access(link.track)


def track_audience(track: Track) -> list[int]:
    """The users who hear live news of the track (its job's progress): who may listen to it
    in their own library or a band's. Moderators look in the admin and are not in it."""
    audience = {track.owner_id}
    if is_shareable(track):
        band_ids = track.shares.values_list("band_id", flat=True)
        audience |= member_ids(band_ids=band_ids)
    return sorted(audience)


def tracks_heard_by(*, user_id: int) -> QuerySet[Track]:
    """The tracks whose audience includes the user (the other side of `track_audience`)."""
    shared = Track.objects.filter(
        shares__band__memberships__user_id=user_id, hidden_at=None, owner__is_active=True
    )
    return Track.objects.filter(Q(owner_id=user_id) | Q(id__in=shared.values("id")))


def audible_parts(track: Track, access: Access) -> list:
    """The parts (original, stems) this access may play and download, in page order."""
    return [part for part in track.parts() if access.can_hear(part.name)]


def still_hears(*, user_id, track_id, parts: Iterable[str]) -> Callable[[], bool]:
    """For a stream in progress (`tracks.media.Recheck`): may this user still hear every one
    of ``parts``? Read afresh from the database each time it is asked."""
    parts = tuple(parts)

    def check() -> bool:
        user = get_user_model().objects.filter(pk=user_id).first()
        track = Track.objects.select_related("owner").filter(id=track_id).first()
        if user is None or track is None:
            return False
        access = track_access(user, track)
        return all(access.can_hear(part) for part in parts)

    return check


def may_hear_event(user: AbstractBaseUser, event: dict) -> bool:
    """The notification socket's check for events about a track (`track_id`): the user may
    still listen to it. Registered with notifications in `TracksConfig.ready`."""
    track_id = event.get("track_id")
    if track_id is None:
        return True
    track = Track.objects.select_related("owner").filter(id=track_id).first()
    return track is not None and track_access(user, track).can_listen


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
