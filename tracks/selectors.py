from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db.models import QuerySet, Subquery, Sum
from django.db.models.functions import Coalesce

from tracks.access import tracks_heard_by
from tracks.models import Asset, Track


def _listed(tracks: QuerySet[Track], query: str) -> QuerySet[Track]:
    tracks = tracks.select_related("job", "owner")
    query = query.strip()
    if query:
        tracks = tracks.filter(title__icontains=query)
    return tracks.order_by("-created_at")


def track_list_shared_with(*, user: AbstractBaseUser, query: str = "") -> QuerySet[Track]:
    """Others' tracks shared with any of the user's bands, that the user may hear now."""
    shared = tracks_heard_by(user_id=user.pk).exclude(owner=user)
    return _listed(shared, query)


def track_list_for_band(*, band_id, query: str = "") -> QuerySet[Track]:
    """The band's library: the tracks shared with it that its members may hear now."""
    shared = Track.objects.filter(
        shares__band_id=band_id, hidden_at=None, owner__is_active=True
    ).distinct()
    return _listed(shared, query)


def track_list_for_user(*, user: AbstractBaseUser, query: str = "") -> QuerySet[Track]:
    """The user's own library: their tracks, newest first, optionally filtered by title."""
    tracks = Track.objects.filter(owner=user).select_related("job").order_by("-created_at")
    query = query.strip()
    if query:
        tracks = tracks.filter(title__icontains=query)
    return tracks


@dataclass(frozen=True)
class StorageUse:
    used_bytes: int
    quota_bytes: int  # 0: no limit

    @property
    def percent(self) -> int:
        return min(100, round(100 * self.used_bytes / self.quota_bytes)) if self.quota_bytes else 0


def storage_use_for_user(*, user_id) -> StorageUse:
    """What the user's tracks take in storage (every asset), and the room held for stems
    still to come, against their quota."""
    stored = (
        Asset.objects.filter(track__owner_id=user_id)
        .values("track__owner_id")
        .annotate(total=Sum("size_bytes"))
        .values("total")
    )
    # One query (the storage meter is on every library page): the held bytes summed over
    # the user's tracks, plus the stored ones from a subquery (a join would count a track's
    # held bytes once per file).
    use = Track.objects.filter(owner_id=user_id).aggregate(
        total=Coalesce(Sum("reserved_bytes"), 0) + Coalesce(Subquery(stored), 0)
    )
    return StorageUse(used_bytes=use["total"], quota_bytes=settings.JAM_USER_QUOTA_BYTES)
