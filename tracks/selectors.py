from django.contrib.auth.models import AbstractBaseUser
from django.db.models import QuerySet

from tracks.models import Track


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
