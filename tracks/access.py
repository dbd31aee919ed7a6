"""The one access rule: given a user and a track, what may they do with it?

Every view, media response, the notification socket and the admin's file links ask here.
Outsiders get a 404 — never a hint that the track exists; someone who may see a track but
not do what they asked gets a 403 (`get_track_or_404`).

An `Access` says which parts someone hears and what they may do beyond playing them:

    NONE      anyone else; everyone but the owner and moderators once the track is hidden
              or its owner's account is inactive (suspended)
    JAM       a member of a band the track is shared with (or a share link), when the owner
              has not allowed the vocals: the jam track only
    LISTEN    the same with the vocals allowed: every part (the original holds the vocals)
    MANAGE    the owner: everything, including rename, delete, share, retry and cancel
    MODERATE  staff with the `tracks.moderate_track` permission: listen to and download
              any track, act on it in the admin

A bandmate's access also follows their role in the band (`bands.roles`, a column of the
membership read here and nowhere else): a role that does not download (the viewer) plays
what the share allows but downloads and exports nothing. In several bands the track is
shared with, the most generous role counts.
"""

import enum
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, replace
from typing import ClassVar

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.core.exceptions import PermissionDenied
from django.db.models import Q, QuerySet
from django.http import Http404
from django.utils import timezone

from bands.roles import band_role
from bands.selectors import member_ids
from catalog.stems import JAM_TRACK
from tracks.models import ShareLink, Track, TrackShare
from tracks.parts import track_parts

MODERATE_PERMISSION = "tracks.moderate_track"


class Hears(enum.Enum):
    """Which parts of a track someone may play."""

    NOTHING = "nothing"
    JAM_TRACK = "the jam track"
    EVERY_PART = "every part"


class Need(enum.Enum):
    """What a view asks to do with a track: `get_track_or_404`'s ``need``."""

    PLAY = "play"  # open its pages, play (and see the waveforms of) the parts it hears
    DOWNLOAD = "download"  # a part's file, the stems zip
    EXPORT = "export"  # ask for renders, follow and download them: exports are downloads
    MANAGE = "manage"  # rename, delete, share, retry, cancel
    MODERATE = "moderate"


@dataclass(frozen=True)
class Access:
    """What one user may do with one track (see the module's docstring)."""

    hears: Hears = Hears.NOTHING
    downloads: bool = False
    manages: bool = False
    moderates: bool = False

    NONE: ClassVar["Access"]
    JAM: ClassVar["Access"]
    LISTEN: ClassVar["Access"]
    MANAGE: ClassVar["Access"]
    MODERATE: ClassVar["Access"]

    @property
    def can_play(self) -> bool:
        """May see the track and play the parts it hears (`can_hear`)."""
        return self.hears is not Hears.NOTHING

    def can_hear(self, part: str) -> bool:
        """May hear this part ("original" or a stem name): play it, read its waveform and
        peaks, export a mix that holds it, and download it where a part may be downloaded at
        all (stems; never the original) if `can_download`. It does not say whether the track
        has the part."""
        if self.hears is Hears.JAM_TRACK:
            return part == JAM_TRACK
        return self.can_play

    def can_hear_all(self, parts: Iterable[str]) -> bool:
        """May play every one of ``parts``: what a render or a stream in progress holds."""
        return all(self.can_hear(part) for part in parts)

    @property
    def hears_all(self) -> bool:
        """Every part, the original and the vocals included."""
        return self.hears is Hears.EVERY_PART

    @property
    def can_download(self) -> bool:
        """May download the parts it hears (their files, the stems zip)."""
        return self.can_play and self.downloads

    @property
    def can_export(self) -> bool:
        """May ask for renders of what it hears, follow and download them."""
        return self.can_download

    @property
    def can_report(self) -> bool:
        """Anyone who can see a track but does not own or moderate it may report it."""
        return self.can_play and not (self.manages or self.moderates)

    @property
    def can_manage(self) -> bool:
        return self.manages

    @property
    def can_moderate(self) -> bool:
        return self.moderates

    def allows(self, need: Need) -> bool:
        return {
            Need.PLAY: self.can_play,
            Need.DOWNLOAD: self.can_download,
            Need.EXPORT: self.can_export,
            Need.MANAGE: self.can_manage,
            Need.MODERATE: self.can_moderate,
        }[need]


Access.NONE = Access()
Access.JAM = Access(hears=Hears.JAM_TRACK, downloads=True)
Access.LISTEN = Access(hears=Hears.EVERY_PART, downloads=True)
Access.MANAGE = Access(hears=Hears.EVERY_PART, downloads=True, manages=True)
Access.MODERATE = Access(hears=Hears.EVERY_PART, downloads=True, moderates=True)


def is_moderator(user: AbstractBaseUser | AnonymousUser) -> bool:
    return bool(
        user.is_authenticated
        and user.is_active
        and user.is_staff
        and user.has_perm(MODERATE_PERMISSION)
    )


def _shared_access(track: Track, *, downloads: bool = True) -> Access:
    """A bandmate's or a share link's: what the owner shared, downloadable or not."""
    shared = Access.LISTEN if track.share_vocals else Access.JAM
    return shared if downloads else replace(shared, downloads=False)


def _band_roles(user_id, tracks) -> dict:
    """The roles (`bands.roles` values) the user holds in the bands each of ``tracks`` is
    shared with, by track id; a track shared with none of their bands is left out."""
    roles: dict = {}
    found = TrackShare.objects.filter(track__in=tracks, band__memberships__user_id=user_id)
    for track_id, role in found.values_list("track_id", "band__memberships__role"):
        roles.setdefault(track_id, set()).add(role)
    return roles


def _access_by_roles(track: Track, roles: Collection[str]) -> Access:
    """A bandmate's access, by the roles they hold in the bands the track is shared with:
    none without one; downloads when any of them downloads."""
    if not roles:
        return Access.NONE
    downloads = any(band_role(role).downloads for role in roles)
    return _shared_access(track, downloads=downloads)


def is_shareable(track: Track) -> bool:
    """Shares and links work only while the track is visible and its owner active."""
    return not track.is_hidden and track.owner.is_active


def track_access(
    user: AbstractBaseUser | AnonymousUser,
    track: Track,
    *,
    band_roles: Collection[str] | None = None,
) -> Access:
    """``band_roles``: the user's roles in the bands the track is shared with, when the
    caller already knows them (`track_access_many`); else they are looked up."""
    if not user.is_authenticated or not user.is_active:
        return Access.NONE
    if track.owner_id == user.pk:
        return Access.MANAGE
    if is_moderator(user):
        return Access.MODERATE
    if not is_shareable(track):
        return Access.NONE
    if band_roles is None:
        band_roles = _band_roles(user.pk, [track]).get(track.pk, ())
    return _access_by_roles(track, band_roles)


def track_access_many(
    user: AbstractBaseUser | AnonymousUser, tracks: list[Track]
) -> list[tuple[Track, Access]]:
    """`track_access` for a page of tracks in one query, not one per track (none when they
    are all the user's own)."""
    roles = {}
    others = [track for track in tracks if track.owner_id != user.pk]
    if user.is_authenticated and others:
        roles = _band_roles(user.pk, others)
    return [
        (track, track_access(user, track, band_roles=roles.get(track.id, ()))) for track in tracks
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
    """The parts (original, stems) this access may play (and download, if it downloads), in
    page order."""
    return [part for part in track_parts(track) if access.can_hear(part.name)]


def still_allowed(*, user_id, track_id, need: Need, parts: Iterable[str]) -> Callable[[], bool]:
    """For a stream in progress (`tracks.media.Recheck`): may this user still do ``need``
    and hear every one of ``parts``? Read afresh from the database each time it is asked
    (a bandmate made a viewer stops downloading)."""
    parts = tuple(parts)

    def check() -> bool:
        user = get_user_model().objects.filter(pk=user_id).first()
        track = Track.objects.select_related("owner").filter(id=track_id).first()
        if user is None or track is None:
            return False
        access = track_access(user, track)
        return access.allows(need) and access.can_hear_all(parts)

    return check


def may_hear_event(user: AbstractBaseUser, event: dict) -> bool:
    """The notification socket's check for events about a track (`track_id`): the user may
    still listen to it. Registered with notifications in `TracksConfig.ready`."""
    track_id = event.get("track_id")
    if track_id is None:
        return True
    track = Track.objects.select_related("owner").filter(id=track_id).first()
    return track is not None and track_access(user, track).can_play


def get_track_or_404(
    user: AbstractBaseUser | AnonymousUser, track_id, *, need: Need = Need.PLAY
) -> tuple[Track, Access]:
    """The track and what the user may do with it, or 404 (cannot see it) / 403 (can see it
    but not do ``need``)."""
    track = Track.objects.select_related("owner", "job").with_assets().filter(id=track_id).first()
    access = track_access(user, track) if track is not None else Access.NONE
    if not access.can_play:
        raise Http404("No such track.")
    if not access.allows(need):
        raise PermissionDenied
    return track, access
