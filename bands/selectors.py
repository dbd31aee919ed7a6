"""Reads about bands. Other apps use the first three (tracks' access rule and sharing
pages): keep their names and signatures."""

import hashlib

from django.db.models import Case, Count, Q, QuerySet, Value, When
from django.utils import timezone

from bands.models import Band, Invitation, Membership
from bands.roles import ROLES


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


# --- Reads for the bands pages -------------------------------------------------------------


def invitation_token_hash(token: str) -> str:
    """What an invitation stores of its link's token."""
    return hashlib.sha256(token.encode()).hexdigest()


def open_invitations() -> Q:
    """Invitations nobody answered or withdrew, and that have not expired."""
    return Q(answered_at__isnull=True, expires_at__gt=timezone.now())


def invitation_is_for(invitation: Invitation, user) -> bool:
    """An invitation is for the user it names, or for whoever's account has its e-mail."""
    if invitation.user_id is not None and invitation.user_id == user.pk:
        return True
    return bool(invitation.email and user.email and invitation.email.lower() == user.email.lower())


def memberships_of(*, user_id) -> QuerySet[Membership]:
    """The user's memberships with their band and its number of members, by band name."""
    return (
        Membership.objects.filter(user_id=user_id)
        .select_related("band")
        .annotate(member_count=Count("band__memberships"))
        .order_by("band__name", "band_id")
    )


def invitations_for(*, user) -> QuerySet[Invitation]:
    """The open invitations meant for the user: naming them, or their account's e-mail."""
    meant = Q(user=user)
    if user.email:
        meant |= Q(email__iexact=user.email)
    return (
        Invitation.objects.filter(open_invitations() & meant)
        .select_related("band", "invited_by")
        .order_by("-created_at")
    )


def band_members(*, band_id) -> QuerySet[Membership]:
    """A band's members by role (the owner, admins, members, viewers: `bands.roles`), each
    role by username."""
    rank = Case(
        *(When(role=role.value, then=Value(rank)) for rank, role in enumerate(ROLES)),
        default=Value(len(ROLES)),
    )
    return (
        Membership.objects.filter(band_id=band_id)
        .select_related("user")
        .order_by(rank, "user__username")
    )


def pending_invitations(*, band_id) -> QuerySet[Invitation]:
    return (
        Invitation.objects.filter(open_invitations(), band_id=band_id)
        .select_related("user", "invited_by")
        .order_by("-created_at")
    )


def invitation_for_token(*, token: str) -> Invitation | None:
    """The open invitation a link stands for; None when it is unknown, answered, withdrawn
    or expired (the page says the same for each)."""
    return (
        Invitation.objects.filter(open_invitations(), token_hash=invitation_token_hash(token))
        .select_related("band", "invited_by")
        .first()
    )
