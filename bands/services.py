"""Every change to bands, memberships and invitations: one transaction each, keyword-only
arguments, one error type. Views call these and show a `BandError`'s message as it is.

Who may do what: any member may leave; the owner and admins may invite (naming the role the
invitee gets) and withdraw invitations; the owner sets anyone's role, admins move people
between the roles that do not run the band (member, viewer: `bands.roles.may_give`); only
the owner removes members and hands the band over (the old owner becomes an admin). An
owner leaves only as the last member (the band goes with them) or after handing the band
over. Each change to a band's memberships first locks the band's row, so two changes to one
band run one after the other.

After the commit, invitation mail (accounts.mail) and live notices (bands/events.py) go
out, `membership_ended` is sent for each membership that ended and `membership_changed` for
a changed role (bands/signals.py).
"""

import logging
import secrets
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.db.models import Q
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from accounts.mail import INVITATION, mail_send_after_commit
from accounts.text import strip_bidi
from bands import events
from bands.models import Band, Invitation, Membership
from bands.roles import OWNER, BandRole, band_role, may_give, roles_given_by
from bands.selectors import invitation_is_for, invitation_token_hash, open_invitations
from bands.signals import membership_changed, membership_ended

logger = logging.getLogger(__name__)
User = get_user_model()
Role = Membership.Role

NAME_MAX_LENGTH = Band._meta.get_field("name").max_length


class BandError(Exception):
    """A change the rules refuse; the message says why, in words for the person asking."""


# --- Helpers ---------------------------------------------------------------------------------


def _locked_band(band: Band) -> Band:
    """The band's row, locked until the transaction ends (a BandError if it is gone)."""
    locked = Band.objects.select_for_update().filter(pk=band.pk).first()
    if locked is None:
        raise BandError("This band no longer exists.")
    return locked


def _membership(band: Band, user, *, missing: str) -> Membership:
    membership = (
        Membership.objects.select_related("user", "band").filter(band=band, user=user).first()
    )
    if membership is None:
        raise BandError(missing)
    return membership


def _owner_membership(band: Band, by) -> Membership:
    membership = _membership(band, by, missing="You are not in this band.")
    if not membership.is_owner:
        raise BandError("Only the band's owner can do that.")
    return membership


def _role_to_give(giver: Membership, value: str) -> BandRole:
    """The row of the role ``giver`` hands out, or a BandError saying why they may not."""
    role = band_role(value)
    given = roles_given_by(giver.rights)
    if role is None or role is OWNER:
        labels = [r.label.lower() for r in roles_given_by(OWNER)]
        raise BandError(f"A member's role is {', '.join(labels[:-1])} or {labels[-1]}.")
    if not given:
        raise BandError("Only the band's owner and admins can do that.")
    if role not in given:
        raise BandError("Only the band's owner can do that.")
    return role


def _send_on_commit(signal, *, band_id, user_id) -> None:
    def send():
        for receiver, error in signal.send_robust(
            sender=Membership, band_id=band_id, user_id=user_id
        ):
            if isinstance(error, Exception):
                logger.error("Membership signal receiver %r failed", receiver, exc_info=error)

    transaction.on_commit(send)


def _end_membership_on_commit(*, band_id, user_id) -> None:
    _send_on_commit(membership_ended, band_id=band_id, user_id=user_id)


# --- Bands -----------------------------------------------------------------------------------


@transaction.atomic
def band_create(*, owner, name: str) -> Membership:
    """A new band with ``owner`` as its owner; returns the owner's membership."""
    name = " ".join(strip_bidi(name).split())  # as Band.clean keeps it
    if not name:
        raise BandError("Give the band a name.")
    if len(name) > NAME_MAX_LENGTH:
        raise BandError(f"A band's name has at most {NAME_MAX_LENGTH} characters.")
    band = Band.objects.create(name=name)
    return Membership.objects.create(band=band, user=owner, role=Role.OWNER)


@transaction.atomic
def band_delete(*, band: Band) -> None:
    """Delete the band, its memberships and invitations; each member's membership ends."""
    band = _locked_band(band)
    for user_id in band.memberships.values_list("user_id", flat=True):
        _end_membership_on_commit(band_id=band.pk, user_id=user_id)
    band.delete()


# --- Invitations -----------------------------------------------------------------------------


@transaction.atomic
def band_invite(
    *,
    band: Band,
    by,
    username_or_email: str,
    role: str = Role.MEMBER,
    site_url: str,
    requester: str,
) -> Invitation:
    """Invite someone by username or e-mail address, to join with ``role``: an invitation
    and, after the commit, an e-mail with its link (built on ``site_url``; within the mail
    limits per address and per ``requester``, `accounts.mail`: over them the invitation
    stands, without the mail). An invitation by e-mail is for the address only: nothing is
    looked up, so nothing tells the inviter whether, or whose, account has it; the account
    is matched when the link is followed (`selectors.invitation_is_for`). The returned
    invitation carries the link's ``token`` (stored only as its sha256), for the caller; it
    is not kept anywhere else."""
    band = _locked_band(band)
    inviter = _membership(band, by, missing="You are not in this band.")
    if not inviter.can_invite:
        raise BandError("Only the band's owner and admins can invite people.")
    role = _role_to_give(inviter, role)
    wanted = username_or_email.strip()
    if not wanted:
        raise BandError("Enter a username or an e-mail address.")

    if "@" in wanted:
        try:
            validate_email(wanted)
        except ValidationError:
            raise BandError(f"“{wanted}” is not an e-mail address.") from None
        email, invitee, label = wanted, None, wanted
        same_person = Q(email__iexact=email)
    else:
        invitee = User.objects.filter(username__iexact=wanted, is_active=True).first()
        if invitee is None:
            raise BandError(
                f"Nobody is called “{wanted}”. Check the spelling, or invite by e-mail."
            )
        email, label = "", invitee.username
        if Membership.objects.filter(band=band, user=invitee).exists():
            raise BandError(f"{label} is in {band.name} already.")
        same_person = Q(user=invitee)
    if band.invitations.filter(open_invitations() & same_person).exists():
        raise BandError(f"{label} has an open invitation to {band.name} already.")

    token = secrets.token_urlsafe(32)
    invitation = Invitation.objects.create(
        band=band,
        invited_by=by,
        user=invitee,
        email=email,
        role=role.value,
        token_hash=invitation_token_hash(token),
        expires_at=timezone.now() + timedelta(days=settings.JAM_BAND_INVITATION_DAYS),
    )
    invitation.token = token

    to = email or invitee.email
    if to:
        context = {
            "band": band,
            "inviter": by,
            "invitee": invitee,
            "role": role,
            "url": site_url + reverse("bands:invitation", args=[token]),
            "days": settings.JAM_BAND_INVITATION_DAYS,
            "signup_url": site_url + reverse("signup"),
        }
        mail_send_after_commit(
            kind=INVITATION,
            to=to,
            requester=requester,
            subject=render_to_string("bands/invitation_subject.txt", context),
            body=render_to_string("bands/invitation_email.txt", context),
        )

    transaction.on_commit(lambda: events.publish_invited(invitation=invitation))
    return invitation


def _invitation_for(*, user, token: str | None, invitation_id: int | None) -> Invitation:
    """The open invitation a link (``token``) or a button on the account page
    (``invitation_id``) answers, locked; it must be meant for ``user``."""
    if (token is None) == (invitation_id is None):
        raise TypeError("Pass exactly one of token and invitation_id.")
    lookup = (
        Q(token_hash=invitation_token_hash(token)) if token is not None else Q(pk=invitation_id)
    )
    invitation = (
        Invitation.objects.select_for_update(of=("self",))
        .select_related("band", "invited_by")
        .filter(lookup)
        .first()
    )
    if invitation is None or not invitation.is_open:
        raise BandError("This invitation is no longer valid.")
    if not invitation_is_for(invitation, user):
        raise BandError("This invitation is for someone else.")
    return invitation


def _answer(invitation: Invitation, *, accepted: bool | None) -> None:
    """Close an open invitation; the conditional update makes sure only one answer counts."""
    answered = Invitation.objects.filter(pk=invitation.pk, answered_at__isnull=True).update(
        answered_at=timezone.now(), accepted=accepted
    )
    if answered != 1:
        raise BandError("This invitation is no longer valid.")


@transaction.atomic
def band_invitation_accept(
    *, user, token: str | None = None, invitation_id: int | None = None
) -> Membership:
    """Join the band an invitation is for (by its link's token or, from the account page, by
    its id), with the role it names; it must be meant for ``user``, open and not
    expired."""
    # The band first, then the invitation: the order every other writer locks them in
    # (withdrawing locks the band, then updates the invitation), so the two never deadlock.
    lookup = (
        Q(token_hash=invitation_token_hash(token)) if token is not None else Q(pk=invitation_id)
    )
    band_id = Invitation.objects.filter(lookup).values_list("band_id", flat=True).first()
    if band_id is not None:
        _locked_band(Band(pk=band_id))
    invitation = _invitation_for(user=user, token=token, invitation_id=invitation_id)
    band = _locked_band(invitation.band)
    _answer(invitation, accepted=True)
    # Any other open invitation to this band for the same person has nothing left to do.
    others = Q(user=user) | (Q(email__iexact=user.email) if user.email else Q(pk__in=[]))
    band.invitations.filter(open_invitations() & others).update(answered_at=timezone.now())
    membership = Membership.objects.filter(band=band, user=user).first()
    if membership is not None:
        return membership  # joined meanwhile through another invitation
    membership = Membership.objects.create(band=band, user=user, role=invitation.role)
    audience = sorted(
        Membership.objects.filter(band=band).exclude(user=user).values_list("user_id", flat=True)
    )
    transaction.on_commit(lambda: events.publish_joined(membership=membership, audience=audience))
    return membership


@transaction.atomic
def band_invitation_decline(
    *, user, token: str | None = None, invitation_id: int | None = None
) -> Invitation:
    """Say no to an invitation meant for ``user``."""
    invitation = _invitation_for(user=user, token=token, invitation_id=invitation_id)
    _answer(invitation, accepted=False)
    return invitation


@transaction.atomic
def band_invitation_withdraw(*, band: Band, by, invitation_id: int) -> Invitation:
    """An owner or admin takes back an open invitation to their band (its link stops
    working)."""
    band = _locked_band(band)
    membership = _membership(band, by, missing="You are not in this band.")
    if not membership.can_invite:
        raise BandError("Only the band's owner and admins can withdraw invitations.")
    invitation = band.invitations.filter(pk=invitation_id).first()
    if invitation is None or not invitation.is_open:
        raise BandError("This invitation is no longer open.")
    _answer(invitation, accepted=None)
    return invitation


# --- Members ---------------------------------------------------------------------------------


@transaction.atomic
def band_leave(*, band: Band, user) -> bool:
    """Leave the band. The owner must hand the band over first unless they are its last
    member; then the band is deleted. Returns True when the band was deleted."""
    band = _locked_band(band)
    membership = _membership(band, user, missing="You are not in this band.")
    others = band.memberships.exclude(pk=membership.pk).exists()
    if not others:
        band_delete(band=band)
        return True
    if membership.is_owner:
        raise BandError(f"You own {band.name}: make another member the owner before you leave.")
    membership.delete()
    _end_membership_on_commit(band_id=band.pk, user_id=user.pk)
    return False


@transaction.atomic
def band_remove_member(*, band: Band, by, user) -> None:
    """The owner removes a member (not themselves: they leave instead)."""
    band = _locked_band(band)
    _owner_membership(band, by)
    if user.pk == by.pk:
        raise BandError("You cannot remove yourself. Leave the band instead.")
    membership = _membership(band, user, missing=f"{user.username} is not in {band.name}.")
    membership_id = membership.pk
    membership.delete()
    user_id = user.pk
    _end_membership_on_commit(band_id=band.pk, user_id=user_id)
    transaction.on_commit(
        lambda: events.publish_removed(band=band, user_id=user_id, membership_id=membership_id)
    )


@transaction.atomic
def band_set_role(*, band: Band, by, user, role: str) -> Membership:
    """Give a member another role: the owner any role but owner, an admin member or viewer
    to those who hold one of them (`bands.roles.may_give`). Access to the band's tracks
    follows at once: the access rule reads the role on every request."""
    band = _locked_band(band)
    giver = _membership(band, by, missing="You are not in this band.")
    new = _role_to_give(giver, role)
    membership = _membership(band, user, missing=f"{user.username} is not in {band.name}.")
    if membership.is_owner:
        raise BandError("The owner stays the owner until they make someone else the owner.")
    if not may_give(giver.rights, membership.rights):
        raise BandError("Only the band's owner can do that.")
    if membership.role != new.value:
        membership.role = new.value
        membership.save(update_fields=("role",))
        _send_on_commit(membership_changed, band_id=band.pk, user_id=user.pk)
    return membership


@transaction.atomic
def band_transfer_ownership(*, band: Band, by, user) -> Membership:
    """The owner makes another member the owner and becomes an admin."""
    band = _locked_band(band)
    old = _owner_membership(band, by)
    if user.pk == by.pk:
        raise BandError(f"You own {band.name} already.")
    new = _membership(band, user, missing=f"{user.username} is not in {band.name}.")
    old.role = Role.ADMIN  # first: a band has one owner at every moment
    old.save(update_fields=("role",))
    new.role = Role.OWNER
    new.save(update_fields=("role",))
    return new
