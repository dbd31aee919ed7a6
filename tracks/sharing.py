"""Sharing a track: with the owner's bands (their members hear it), and by read-only links
for people without an account. Who may then do what is the access rule's business
(`tracks.access`); this module only changes who is shared with, and tells the people whose
access changed, at once, over the socket."""

import hashlib
import secrets
from collections.abc import Iterable, Mapping
from datetime import timedelta

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from bands.selectors import bands_of, member_ids
from catalog.shares import DEFAULT_SCOPE, get_share_scope
from tracks.access import track_access, track_audience
from tracks.events import track_changed_publish, track_revoked_publish, track_shared_publish
from tracks.models import ShareLink, Track, TrackShare

LINK_LIFETIMES_DAYS = (1, 7, 30)  # offered on the track page; or no expiry


class SharingError(ValueError):
    """A share we refuse; the message is shown as is."""


def _publish_access_changes(track: Track, before: set[int], shared_bands: dict) -> None:
    track = Track.objects.select_related("owner").filter(pk=track.pk).first()
    if track is None:
        return  # deleted before this ran: its deletion told the listeners
    after = set(track_audience(track))
    gained = after - before - {track.owner_id}
    for band, members in shared_bands.items():
        track_shared_publish(
            track=track, user_ids=gained & members, band_id=band.id, band_name=band.name
        )
    track_changed_publish(track=track, user_ids=(after & before) - {track.owner_id})
    track_revoked_publish(
        track_id=track.id,
        user_ids=before - after,
        message=f"“{track.title}” is no longer shared with you.",
    )


def _scope_checked(scope: str) -> str:
    if get_share_scope(scope) is None:
        raise SharingError("Choose what they may hear.")
    return scope


def _share_exactly(*, track: Track, by: AbstractBaseUser, scopes: Mapping) -> None:
    """Share the track with exactly these bands of its owner, each in its scope (band id →
    scope name); the others are unshared."""
    if track.owner_id != by.pk:
        raise SharingError("Only the owner can share a track.")
    own_bands = {str(band.id): band for band in bands_of(user_id=by.pk)}
    if not {str(band_id) for band_id in scopes} <= set(own_bands):
        raise SharingError("You can share only with bands you are in.")
    wanted = {own_bands[str(band_id)].id: _scope_checked(s) for band_id, s in scopes.items()}
    before = set(track_audience(track))
    with transaction.atomic():
        current = dict(track.shares.values_list("band_id", "scope"))
        track.shares.exclude(band_id__in=wanted).delete()
        TrackShare.objects.bulk_create(
            [
                TrackShare(track=track, band_id=band_id, scope=scope, shared_by=by)
                for band_id, scope in wanted.items()
                if band_id not in current
            ]
        )
        for band_id, scope in wanted.items():
            if band_id in current and current[band_id] != scope:
                track.shares.filter(band_id=band_id).update(scope=scope)
    new_bands = {
        band: member_ids(band_ids=[band.id])
        for band in own_bands.values()
        if band.id in wanted.keys() - current.keys()
    }
    transaction.on_commit(lambda: _publish_access_changes(track, before, new_bands))


def track_share(*, track: Track, by: AbstractBaseUser, band_ids: Iterable, scope: str) -> None:
    """Share the track with exactly these bands of its owner (others are unshared), all in
    one scope (a `catalog.shares` name: what bandmates hear). Only the owner shares."""
    _share_exactly(track=track, by=by, scopes={band_id: scope for band_id in band_ids})


def track_share_many(
    *, tracks: Iterable[Track], by: AbstractBaseUser, band_id, scope: str = DEFAULT_SCOPE
) -> int:
    """Add one of the owner's bands, in ``scope``, to the shares of several of their tracks
    (the library's bulk action); the tracks' other shares keep theirs, and a track already
    shared with the band is left as it is. Returns how many tracks were newly shared."""
    band = bands_of(user_id=by.pk).filter(id=band_id).first()
    if band is None:
        raise SharingError("You can share only with bands you are in.")
    _scope_checked(scope)
    shared = 0
    for track in tracks:
        current = dict(track.shares.values_list("band_id", "scope"))
        if band.id not in current:
            _share_exactly(track=track, by=by, scopes={**current, band.id: scope})
            shared += 1
    return shared


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def link_lifetime_parse(posted: str | None) -> int | None:
    """The lifetime the track page's form posted, in days: one of LINK_LIFETIMES_DAYS as
    plain digits, or "" for a link that never expires. Anything else ("-1", "abc", "0", no
    field at all) is refused: it must never turn into "never"."""
    if posted == "":
        return None
    choices = {str(days): days for days in LINK_LIFETIMES_DAYS}
    if posted not in choices:
        raise SharingError("Choose how long the link lasts.")
    return choices[posted]


def share_link_create(
    *,
    track: Track,
    by: AbstractBaseUser,
    expires_in_days: int | None,
    scope: str = DEFAULT_SCOPE,
) -> tuple[ShareLink, str]:
    """A new read-only link to the parts of ``scope``; returns it and its token (shown
    once: only the hash is kept)."""
    if track.owner_id != by.pk:
        raise SharingError("Only the owner can share a track.")
    if expires_in_days is not None and expires_in_days not in LINK_LIFETIMES_DAYS:
        raise SharingError("Choose how long the link lasts.")
    _scope_checked(scope)
    token = secrets.token_urlsafe(24)
    expires_at = timezone.now() + timedelta(days=expires_in_days) if expires_in_days else None
    link = ShareLink.objects.create(
        track=track,
        token_hash=_token_hash(token),
        created_by=by,
        expires_at=expires_at,
        scope=scope,
    )
    return link, token


def share_link_revoke(*, link: ShareLink, by: AbstractBaseUser) -> None:
    if link.track.owner_id != by.pk:
        raise SharingError("Only the owner can revoke a link.")
    ShareLink.objects.filter(pk=link.pk, revoked_at=None).update(revoked_at=timezone.now())


def share_link_find(token: str) -> ShareLink | None:
    """The link a token opens (revoked or not: the access rule decides what it allows)."""
    if not token or len(token) > 100:
        return None
    return (
        ShareLink.objects.select_related("track", "track__owner", "track__job")
        .filter(token_hash=_token_hash(token))
        .first()
    )


def _tell_who_lost_it(track_ids_and_users: list[tuple], message: str) -> None:
    """After commit: for each (track id, title, users who could hear it), tell those who can
    no longer hear it (another band may still share it with them)."""
    User = get_user_model()
    for track_id, title, user_ids in track_ids_and_users:
        track = Track.objects.select_related("owner").filter(id=track_id).first()
        users = User.objects.filter(pk__in=user_ids)
        lost = {u.pk for u in users if track is None or not track_access(u, track).can_play}
        track_revoked_publish(track_id=track_id, user_ids=lost, message=message.format(title))


def on_membership_ended(sender, *, band_id, user_id, **kwargs) -> None:
    """Someone left a band or was removed (bands' `membership_ended`, after commit). Their
    own tracks stop being shared with that band, and everyone who loses a track by it —
    they themselves, or the bandmates who heard their tracks — is told at once."""
    band_members = member_ids(band_ids=[band_id])
    theirs = list(TrackShare.objects.filter(band_id=band_id, track__owner_id=user_id))
    lost = [(share.track_id, share.track.title, band_members) for share in theirs]
    TrackShare.objects.filter(pk__in=[share.pk for share in theirs]).delete()
    others = Track.objects.filter(shares__band_id=band_id).exclude(owner_id=user_id)
    lost += [(track.id, track.title, {user_id}) for track in others]
    _tell_who_lost_it(lost, "“{}” is no longer shared with you.")


def on_membership_changed(sender, *, band_id, user_id, **kwargs) -> None:
    """Someone's role in a band changed (bands' `membership_changed`, after commit): the
    pages they have open of the tracks shared with that band re-fetch what they show (a
    viewer's lose their download links)."""
    tracks = Track.objects.filter(shares__band_id=band_id).exclude(owner_id=user_id)
    for track in tracks.select_related("owner"):
        track_changed_publish(track=track, user_ids={user_id})


def on_band_deleted(sender, instance, **kwargs) -> None:
    """A band is about to be deleted (with its shares): once that commits, tell its members
    which tracks they no longer hear."""
    members = member_ids(band_ids=[instance.pk])
    lost = [
        (track.id, track.title, members - {track.owner_id})
        for track in Track.objects.filter(shares__band_id=instance.pk)
    ]
    transaction.on_commit(lambda: _tell_who_lost_it(lost, "“{}” is no longer shared with you."))


def on_user_saved(sender, instance, created, **kwargs) -> None:
    """An account was deactivated (suspended): the bandmates who heard its tracks lose them
    now (the access rule gives nothing to an inactive owner's tracks); tell their pages."""
    if created or instance.is_active:
        return
    lost = []
    for track in Track.objects.filter(owner_id=instance.pk, shares__isnull=False).distinct():
        band_ids = track.shares.values_list("band_id", flat=True)
        lost.append((track.id, track.title, member_ids(band_ids=band_ids) - {instance.pk}))
    if lost:
        transaction.on_commit(lambda: _tell_who_lost_it(lost, "“{}” is no longer available."))
