from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db.models import QuerySet, Sum

from tracks.models import Asset, Track


def track_list_for_user(*, user: AbstractBaseUser, query: str = "") -> QuerySet[Track]:
    """The user's own library: their tracks, newest first, optionally filtered by title."""
    tracks = (
        Track.objects.filter(owner=user)
        .select_related("job")
        .prefetch_related("assets")
        .order_by("-created_at")
    )
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
    """What the user's tracks take in storage (every asset), against their quota."""
    used = Asset.objects.filter(track__owner_id=user_id).aggregate(total=Sum("size_bytes"))
    return StorageUse(used_bytes=used["total"] or 0, quota_bytes=settings.JAM_USER_QUOTA_BYTES)
