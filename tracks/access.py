"""The one access rule: given a user and a track, what may they do with it?

Every view, media response, the notification socket and the admin's file links ask here.
Outsiders get a 404 — never a hint that the track exists; someone who may see a track but
not do what they asked gets a 403 (`get_track_or_404`).

An `Access` says which parts someone hears and what they may do beyond playing them:

    NONE      anyone else; everyone but the owner and moderators once the track is hidden
              or its owner's account is inactive (suspended)
    JAM       a member of a band the track is shared with in the "jam" scope (or a share
              link in it): the jam track only
    LISTEN    every part (the original holds the vocals): the "all" scope
    MANAGE    the owner: everything, including rename, delete, share, retry and cancel
    MODERATE  staff with the `tracks.moderate_track` permission: listen to and download
              any track, act on it in the admin — but not export it: an export spends
              worker time and storage, and moderating needs neither. A moderator who is
              also the owner or a bandmate exports what that ordinary access exports.

A share's **scope** is a row of `catalog.shares`: a name and the parts it lets people hear
("original" and stem names). Each band share (`TrackShare.scope`) and each share link
(`ShareLink.scope`) names one; a bandmate or link hears exactly its parts, nothing here
knows "the vocals", so a new scope is a row there and nothing else. Someone in several
bands the track is shared with hears the union of those shares' parts.

A bandmate's access also follows their role in the band (`bands.roles`, a column of the
membership read here and nowhere else): a role that does not download (the viewer) plays
what the share allows but downloads and exports nothing. In several bands the track is
shared with, someone downloads (and exports) the parts of the shares whose role downloads:
a viewer where every part is shared and a member where the jam track is hears every part
and downloads the jam track alone.
"""

import enum
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass
from functools import reduce
from typing import ClassVar

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.core.exceptions import PermissionDenied
from django.db.models import Q, QuerySet
from django.http import Http404
from django.utils import timezone

from bands.roles import band_role
from bands.selectors import member_ids
from catalog.shares import get_share_scope
from catalog.stems import PART_NAMES
from tracks.models import ShareLink, Track, TrackShare
from tracks.parts import track_parts

MODERATE_PERMISSION = "tracks.moderate_track"


class _EveryPart:
    """What the owner and moderators hear: every part, whatever the registries hold."""

    def __repr__(self) -> str:
        return "EVERY_PART"


EVERY_PART = _EveryPart()

Hearing = frozenset[str] | _EveryPart


def hearing(parts: Iterable[str]) -> Hearing:
    """The parts as `Access.hears`: EVERY_PART when they cover every part of a track, so
    that a scope of every part gives `Access.LISTEN` itself."""
    parts = frozenset(parts)
    return EVERY_PART if parts >= set(PART_NAMES) else parts


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

    hears: Hearing = frozenset()  # part names ("original", stems), or EVERY_PART
    # The parts it may download and export, of those it hears: a band's viewer none. Kept
    # apart from `hears`: a viewer in one band that shares every part and a member of
    # another that shares the jam track hears every part but downloads the jam track only.
    downloads: Hearing = frozenset()
    # The parts it may export (ask for renders of, follow and download them): those it
    # downloads, except that moderating alone exports nothing (`Access.MODERATE`).
    exports: Hearing = frozenset()
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
        return bool(self.hears)

    def can_hear(self, part: str) -> bool:
        """May hear this part ("original" or a stem name): play it, read its waveform and
        peaks. Downloading and exporting it is `can_download_part`. It does not say whether
        the track has the part."""
        return self.hears is EVERY_PART or part in self.hears

    def can_hear_all(self, parts: Iterable[str]) -> bool:
        """May play every one of ``parts``: what a render or a stream in progress holds."""
        return all(self.can_hear(part) for part in parts)

    @property
    def hears_all(self) -> bool:
        """Every part, the original and the vocals included."""
        return self.hears is EVERY_PART

    @property
    def can_download(self) -> bool:
        """May download some of the parts it hears (`can_download_part` says which)."""
        return self.can_play and bool(self.downloads)

    def can_download_part(self, part: str) -> bool:
        """May download this part's file (where the part may be downloaded at all)."""
        return self.can_hear(part) and (self.downloads is EVERY_PART or part in self.downloads)

    def can_download_all(self, parts: Iterable[str]) -> bool:
        """May download (and export) every one of ``parts``: what a render or a zip holds."""
        return all(self.can_download_part(part) for part in parts)

    @property
    def can_export(self) -> bool:
        """May ask for renders of the parts it exports, follow and download them."""
        return self.can_play and bool(self.exports)

    def can_export_part(self, part: str) -> bool:
        """May export this part: download it, with ordinary (not moderating) access."""
        return self.can_download_part(part) and (self.exports is EVERY_PART or part in self.exports)

    def can_export_all(self, parts: Iterable[str]) -> bool:
        """May export every one of ``parts``: what a render holds."""
        return all(self.can_export_part(part) for part in parts)

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

    def allows(self, need: Need, parts: Iterable[str] = ()) -> bool:
        """May do ``need`` — with every one of ``parts``, when given: hear them to play,
        download them to download or export."""
        allowed = {
            Need.PLAY: self.can_play,
            Need.DOWNLOAD: self.can_download,
            Need.EXPORT: self.can_export,
            Need.MANAGE: self.can_manage,
            Need.MODERATE: self.can_moderate,
        }[need]
        if need is Need.DOWNLOAD:
            return allowed and self.can_download_all(parts)
        if need is Need.EXPORT:
            return allowed and self.can_export_all(parts)
        return allowed and self.can_hear_all(parts)

    def __or__(self, other: "Access") -> "Access":
        """The most generous of two: the parts either hears, the parts either downloads,
        what either may do."""
        return Access(
            hears=_union(self.hears, other.hears),
            downloads=_union(self.downloads, other.downloads),
            exports=_union(self.exports, other.exports),
            manages=self.manages or other.manages,
            moderates=self.moderates or other.moderates,
        )


def _union(mine: Hearing, theirs: Hearing) -> Hearing:
    if isinstance(mine, frozenset) and isinstance(theirs, frozenset):
        return hearing(mine | theirs)
    return EVERY_PART


def _scope_parts(name: str) -> tuple[str, ...]:
    scope = get_share_scope(name)
    return scope.parts if scope is not None else ()  # a scope since removed: nothing


Access.NONE = Access()
_JAM_PARTS = hearing(_scope_parts("jam"))
Access.JAM = Access(hears=_JAM_PARTS, downloads=_JAM_PARTS, exports=_JAM_PARTS)
Access.LISTEN = Access(hears=EVERY_PART, downloads=EVERY_PART, exports=EVERY_PART)
Access.MANAGE = Access(hears=EVERY_PART, downloads=EVERY_PART, exports=EVERY_PART, manages=True)
# Moderating exports nothing (see the module's docstring).
Access.MODERATE = Access(hears=EVERY_PART, downloads=EVERY_PART, moderates=True)


def is_moderator(user: AbstractBaseUser | AnonymousUser) -> bool:
    return bool(
        user.is_authenticated
        and user.is_active
        and user.is_staff
        and user.has_perm(MODERATE_PERMISSION)
    )


def _shared_access(scope: str, *, downloads: bool = True) -> Access:
    """A bandmate's or a share link's: the parts of the share's scope, downloadable or not."""
    parts = hearing(_scope_parts(scope))
    given = parts if downloads else frozenset()
    return Access(hears=parts, downloads=given, exports=given)


def _band_shares(user_id, tracks) -> dict:
    """The (role, scope) of each share of ``tracks`` with a band the user is in — their role
    (`bands.roles` value) there and the share's scope — by track id; a track shared with
    none of their bands is left out."""
    shares: dict = {}
    found = TrackShare.objects.filter(track__in=tracks, band__memberships__user_id=user_id)
    for track_id, role, scope in found.values_list("track_id", "band__memberships__role", "scope"):
        shares.setdefault(track_id, set()).add((role, scope))
    return shares


def _role_downloads(value: str) -> bool:
    """Whether a stored role downloads; a value that is no role (since removed) does not."""
    role = band_role(value)
    return role is not None and role.downloads


def _access_by_shares(shares: Collection[tuple[str, str]]) -> Access:
    """A bandmate's access, by their (role, scope) in each band the track is shared with:
    none without one; in several, the union of the scopes' parts to hear, and of the parts
    of the shares whose role downloads to download."""
    found = [_shared_access(scope, downloads=_role_downloads(role)) for role, scope in shares]
    return reduce(Access.__or__, found, Access.NONE)


def is_shareable(track: Track) -> bool:
    """Shares and links work only while the track is visible and its owner active."""
    return not track.is_hidden and track.owner.is_active


def track_access(
    user: AbstractBaseUser | AnonymousUser,
    track: Track,
    *,
    band_shares: Collection[tuple[str, str]] | None = None,
) -> Access:
    """``band_shares``: the user's (role, scope) in each band the track is shared with,
    when the caller already knows them (`track_access_many`); else they are looked up."""
    if not user.is_authenticated or not user.is_active:
        return Access.NONE
    if track.owner_id == user.pk:
        return Access.MANAGE
    moderating = Access.MODERATE if is_moderator(user) else Access.NONE
    if not is_shareable(track):
        return moderating
    if band_shares is None:
        band_shares = _band_shares(user.pk, [track]).get(track.pk, ())
    # A moderator who is also a bandmate exports what the bands let them export.
    return moderating | _access_by_shares(band_shares)


def track_access_many(
    user: AbstractBaseUser | AnonymousUser, tracks: list[Track]
) -> list[tuple[Track, Access]]:
    """`track_access` for a page of tracks in one query, not one per track (none when they
    are all the user's own)."""
    shares = {}
    others = [track for track in tracks if track.owner_id != user.pk]
    if user.is_authenticated and others:
        shares = _band_shares(user.pk, others)
    return [
        (track, track_access(user, track, band_shares=shares.get(track.id, ()))) for track in tracks
    ]


def link_access(link: ShareLink) -> Access:
    """What a share link lets anyone holding it do: hear the parts of its scope (and
    download those that download), while the link is neither revoked nor expired and the
    track is shareable."""
    if link.revoked_at is not None or (link.expires_at and link.expires_at <= timezone.now()):
        return Access.NONE
    if not is_shareable(link.track):
        return Access.NONE
    return _shared_access(link.scope)


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
    return tracks_heard_by_any(user_ids=[user_id])


def tracks_heard_by_any(*, user_ids: Iterable[int]) -> QuerySet[Track]:
    """The tracks whose audience includes any of the users (the row relay asks once for
    every user with a socket open in its process)."""
    user_ids = list(user_ids)
    shared = Track.objects.filter(
        shares__band__memberships__user_id__in=user_ids, hidden_at=None, owner__is_active=True
    )
    return Track.objects.filter(Q(owner_id__in=user_ids) | Q(id__in=shared.values("id")))


def audible_parts(track: Track, access: Access) -> list:
    """The parts (original, stems) this access may play, in page order (those it may
    download: `downloadable_parts`)."""
    return [part for part in track_parts(track) if access.can_hear(part.name)]


def downloadable_parts(track: Track, access: Access) -> list:
    """The parts whose files this access may download (stems with audio), in page order."""
    return [
        part
        for part in audible_parts(track, access)
        if part.audio and part.downloadable and access.can_download_part(part.name)
    ]


def still_allowed(*, user_id, track_id, need: Need, parts: Iterable[str]) -> Callable[[], bool]:
    """For a stream in progress (`tracks.media.Recheck`): may this user still do ``need``
    with every one of ``parts`` (`Access.allows`)? Read afresh from the database each time
    it is asked (a bandmate made a viewer stops downloading)."""
    parts = tuple(parts)

    def check() -> bool:
        user = get_user_model().objects.filter(pk=user_id).first()
        track = Track.objects.select_related("owner").filter(id=track_id).first()
        if user is None or track is None:
            return False
        return track_access(user, track).allows(need, parts)

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
    track = (
        Track.objects.select_related("owner", "job", "import_job")
        .with_assets()
        .filter(id=track_id)
        .first()
    )
    access = track_access(user, track) if track is not None else Access.NONE
    if not access.can_play:
        raise Http404("No such track.")
    if not access.allows(need):
        raise PermissionDenied
    return track, access
