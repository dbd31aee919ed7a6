"""Live notices about bands, published through notifications after the change commits.

Every event names the band (``band_id``, ``band_name``), a ``url`` to go to and the toast's
``message``; none carries ``track_id``, so the socket's track check lets them through. They
are published from the web process that made the change, so the channel layer reaches the
sockets in the embedded mode too (one process), with no row relay.
"""

from django.urls import reverse

from bands.models import Band, Invitation, Membership
from notifications.events import Event, publish


class BandEvent(Event):
    band_id: str
    band_name: str
    url: str
    message: str


def publish_invited(*, invitation: Invitation) -> None:
    """To a registered invitee: an invitation arrived ("bands.invited")."""
    if invitation.user_id is None:
        return
    inviter = invitation.invited_by.username if invitation.invited_by else "Someone"
    publish(
        BandEvent(
            type="bands.invited",
            audience=[invitation.user_id],
            key=f"invitation.{invitation.pk}",
            band_id=str(invitation.band_id),
            band_name=invitation.band.name,
            url=reverse("bands:list"),
            message=f"{inviter} invited you to join {invitation.band.name}.",
        )
    )


def publish_joined(*, membership: Membership, audience: list[int]) -> None:
    """To the band's other members: someone joined ("bands.joined")."""
    band = membership.band
    publish(
        BandEvent(
            type="bands.joined",
            audience=audience,
            key=f"membership.{membership.pk}",
            band_id=str(band.pk),
            band_name=band.name,
            url=reverse("bands:detail", args=[band.pk]),
            message=f"{membership.user.username} joined {band.name}.",
        )
    )


def publish_removed(*, band: Band, user_id: int, membership_id: int) -> None:
    """To the removed user: they are no longer in the band ("bands.removed")."""
    publish(
        BandEvent(
            type="bands.removed",
            audience=[user_id],
            key=f"membership.{membership_id}.removed",
            band_id=str(band.pk),
            band_name=band.name,
            url=reverse("bands:list"),
            message=f"You were removed from {band.name}.",
        )
    )
