from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import connection
from django.db.models import QuerySet

from tracks.access import tracks_heard_by
from tracks.models import Asset, Track


def _listed(tracks: QuerySet[Track], query: str) -> QuerySet[Track]:
    tracks = tracks.select_related("job", "import_job", "owner")
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
    tracks = (
        Track.objects.filter(owner=user).select_related("job", "import_job").order_by("-created_at")
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
    """What the user's files take in storage, and the room held for stems still to come,
    against their quota. Their files: those of their tracks that nobody else pays for, and
    the exports they asked for (`Asset.charged_to`), of their tracks or anyone's."""
    # On every library page and every upload: one statement written out, because building
    # it with the ORM (two aggregates, or one with a subquery) cost 0.9-1.2 ms of CPU against
    # 0.1 ms for the same sums here. The held room is summed over the tracks on their own: a
    # join with the files would count it once per file.
    quote = connection.ops.quote_name
    track, asset = quote(Track._meta.db_table), quote(Asset._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT COALESCE((SELECT SUM(a.size_bytes) FROM {asset} a"
            f" JOIN {track} t ON a.track_id = t.id"
            f" WHERE t.owner_id = %s AND a.charged_to_id IS NULL), 0)"
            f" + COALESCE((SELECT SUM(size_bytes) FROM {asset} WHERE charged_to_id = %s), 0),"
            f" COALESCE((SELECT SUM(reserved_bytes) FROM {track} WHERE owner_id = %s), 0)",
            [user_id, user_id, user_id],
        )
        stored, held = cursor.fetchone()
    # int(): PostgreSQL sums bigints as numeric (a Decimal).
    return StorageUse(used_bytes=int(stored + held), quota_bytes=settings.JAM_USER_QUOTA_BYTES)
