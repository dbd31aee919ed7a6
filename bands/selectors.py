"""Reads about bands that other apps use (tracks' access rule and sharing pages)."""

from django.db.models import QuerySet

from bands.models import Band, Membership


def bands_of(*, user_id) -> QuerySet[Band]:
    """The bands the user is a member of (any role), by name."""
    return Band.objects.filter(memberships__user_id=user_id).order_by("name")


def membership_of(*, user_id, band_id) -> Membership | None:
    return (
        Membership.objects.select_related("band").filter(user_id=user_id, band_id=band_id).first()
    )


def member_ids(*, band_ids) -> set[int]:
    """The ids of every member of these bands."""
    return set(
        Membership.objects.filter(band_id__in=list(band_ids)).values_list("user_id", flat=True)
    )
