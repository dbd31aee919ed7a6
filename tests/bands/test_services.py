from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.utils import timezone

from bands.models import Band, Invitation, Membership
from bands.services import (
    BandError,
    band_create,
    band_invitation_accept,
    band_invitation_decline,
    band_invitation_withdraw,
    band_leave,
    band_remove_member,
    band_set_role,
    band_transfer_ownership,
)
from tests.bands.conftest import invite, join, link_in

Role = Membership.Role


def test_creating_a_band_makes_its_creator_the_owner(alice):
    membership = band_create(owner=alice, name="  The   Jammers ")
    assert membership.band.name == "The Jammers"
    assert (membership.user, membership.role) == (alice, Role.OWNER)
    assert Membership.objects.filter(band=membership.band).count() == 1


def test_a_band_needs_a_name(alice):
    with pytest.raises(BandError, match="name"):
        band_create(owner=alice, name="   ")
    assert not Band.objects.exists()


def test_a_user_can_be_in_several_bands(alice, bob):
    first = band_create(owner=alice, name="One").band
    band_create(owner=bob, name="Two")
    join(first, bob)
    assert set(Membership.objects.filter(user=bob).values_list("band__name", flat=True)) == {
        "One",
        "Two",
    }


# --- Inviting ----------------------------------------------------------------------------


def test_inviting_by_username_e_mails_a_link_that_works(band, alice, bob, outbox):
    invitation = invite(
        band=band, by=alice, username_or_email="BOB", site_url="https://jam.example.org"
    )
    assert (invitation.user, invitation.invited_by, invitation.accepted) == (bob, alice, None)
    assert invitation.expires_at > timezone.now() + timedelta(days=6)
    assert len(outbox) == 1
    assert outbox[0].to == ["bob@example.com"]
    assert "alice invited you to join The Jammers" in outbox[0].subject
    link = link_in(outbox[0])
    assert link.startswith("https://jam.example.org/bands/invitations/")
    token = link.rstrip("/").rsplit("/", 1)[1]
    assert token == invitation.token
    assert Invitation.objects.get().token_hash != token  # only its hash is stored
    band_invitation_accept(user=bob, token=token)
    assert Membership.objects.get(band=band, user=bob).role == Role.MEMBER


def test_an_invitation_names_the_role_its_invitee_joins_with(band, alice, bob, outbox):
    invitation = invite(band=band, by=alice, username_or_email="bob", role=Role.VIEWER)
    assert invitation.role == Role.VIEWER
    assert "as a viewer" in outbox[0].body
    membership = band_invitation_accept(user=bob, token=invitation.token)
    assert Membership.objects.get(pk=membership.pk).role == Role.VIEWER


def test_an_invitation_makes_a_member_unless_it_says_otherwise(band, alice, bob, outbox):
    invitation = invite(band=band, by=alice, username_or_email="bob")
    assert invitation.role == Role.MEMBER
    assert " as a" not in outbox[0].body


def test_an_admin_invites_members_and_viewers_but_not_admins(band, alice, bob, charlie):
    join(band, bob, role=Role.ADMIN)
    with pytest.raises(BandError, match="Only the band's owner"):
        invite(band=band, by=bob, username_or_email="charlie", role=Role.ADMIN)
    with pytest.raises(BandError, match="admin, member or viewer"):
        invite(band=band, by=alice, username_or_email="charlie", role=Role.OWNER)
    assert not Invitation.objects.filter(user=charlie).exists()
    invitation = invite(band=band, by=bob, username_or_email="charlie", role=Role.VIEWER)
    assert invitation.role == Role.VIEWER


def test_the_invitation_lifetime_comes_from_the_setting(settings, band, alice, bob):
    settings.JAM_BAND_INVITATION_DAYS = 2
    invitation = invite(band=band, by=alice, username_or_email="bob")
    lifetime = invitation.expires_at - invitation.created_at
    assert timedelta(days=2) - timedelta(seconds=5) < lifetime <= timedelta(days=2)


def test_inviting_an_e_mail_that_belongs_to_a_user_is_for_the_address_until_followed(
    band, alice, bob, outbox
):
    invitation = invite(band=band, by=alice, username_or_email="Bob@Example.com")
    assert (invitation.user, invitation.email) == (None, "Bob@Example.com")
    assert outbox[0].to == ["Bob@Example.com"]
    assert outbox[0].body.startswith("Hello,")  # not "Hello bob": nothing was looked up
    band_invitation_accept(user=bob, token=link_in(outbox[0]).rstrip("/").rsplit("/", 1)[1])
    assert Membership.objects.filter(band=band, user=bob).exists()


def test_inviting_an_unknown_e_mail_keeps_only_the_address(band, alice, outbox):
    invitation = invite(band=band, by=alice, username_or_email="newcomer@example.com")
    assert (invitation.user, invitation.email) == (None, "newcomer@example.com")
    assert outbox[0].to == ["newcomer@example.com"]
    assert "sign up with this e-mail address" in outbox[0].body


def test_someone_who_signs_up_with_the_invited_address_can_accept(band, alice, password, outbox):
    invitation = invite(band=band, by=alice, username_or_email="newcomer@example.com")
    newcomer = User.objects.create_user("newcomer", "NEWCOMER@example.com", password)
    band_invitation_accept(user=newcomer, token=invitation.token)
    assert Membership.objects.filter(band=band, user=newcomer).exists()


def test_inviting_an_unknown_username_is_refused(band, alice, outbox):
    with pytest.raises(BandError, match="Nobody is called “nobody”"):
        invite(band=band, by=alice, username_or_email="nobody")
    assert not Invitation.objects.exists()
    assert outbox == []


def test_inviting_something_that_is_not_an_address_is_refused(band, alice):
    with pytest.raises(BandError, match="not an e-mail address"):
        invite(band=band, by=alice, username_or_email="bob@")
    assert not Invitation.objects.exists()


def test_inviting_a_member_is_refused(band, alice, bob):
    join(band, bob)
    with pytest.raises(BandError, match="bob is in The Jammers already"):
        invite(band=band, by=alice, username_or_email="bob")
    # By address nothing is looked up (that would say whose the address is): the invitation
    # is made, and following it says bob is in the band already.
    by_address = invite(band=band, by=alice, username_or_email="bob@example.com")
    assert by_address.user is None


def test_inviting_someone_with_an_open_invitation_again_is_refused(band, alice, bob):
    invite(band=band, by=alice, username_or_email="bob")
    with pytest.raises(BandError, match="open invitation"):
        invite(band=band, by=alice, username_or_email="bob")
    invite(band=band, by=alice, username_or_email="new@example.com")
    with pytest.raises(BandError, match="open invitation"):
        invite(band=band, by=alice, username_or_email="NEW@example.com")
    assert Invitation.objects.count() == 2


def test_accepting_one_invitation_closes_the_others_by_username_and_by_address(band, alice, bob):
    by_name = invite(band=band, by=alice, username_or_email="bob")
    invite(band=band, by=alice, username_or_email="bob@example.com")
    band_invitation_accept(user=bob, token=by_name.token)
    assert not band.invitations.filter(answered_at__isnull=True).exists()


def test_someone_whose_invitation_expired_can_be_invited_again(band, alice, bob):
    first = invite(band=band, by=alice, username_or_email="bob")
    Invitation.objects.filter(pk=first.pk).update(expires_at=timezone.now())
    invite(band=band, by=alice, username_or_email="bob")
    assert Invitation.objects.count() == 2


def test_admins_may_invite_and_members_may_not(band, bob, charlie):
    join(band, bob, role=Role.ADMIN)
    invite(band=band, by=bob, username_or_email="charlie")
    member = User.objects.create_user("dora", "dora@example.com", "x")
    join(band, member)
    with pytest.raises(BandError, match="owner and admins"):
        invite(band=band, by=member, username_or_email="someone@example.com")
    assert Invitation.objects.filter(email="someone@example.com").count() == 0


def test_an_outsider_cannot_invite(band, bob):
    with pytest.raises(BandError, match="not in this band"):
        invite(band=band, by=bob, username_or_email="bob")


def test_a_mail_server_that_fails_after_the_commit_is_logged_and_the_invitation_stays(
    settings, band, alice, bob, caplog
):
    settings.EMAIL_BACKEND = "tests.bands.test_services.BrokenBackend"
    invitation = invite(band=band, by=alice, username_or_email="bob")
    assert Invitation.objects.get() == invitation
    assert "Could not send a mail" in caplog.text


class BrokenBackend:
    def __init__(self, *args, **kwargs):
        pass

    def send_messages(self, messages):
        raise ConnectionRefusedError("no mail server")


# --- Answering ---------------------------------------------------------------------------


def test_accepting_an_invitation_meant_for_someone_else_is_refused(band, alice, bob, charlie):
    invitation = invite(band=band, by=alice, username_or_email="bob")
    with pytest.raises(BandError, match="for someone else"):
        band_invitation_accept(user=charlie, token=invitation.token)
    invitation.refresh_from_db()
    assert invitation.answered_at is None
    assert not Membership.objects.filter(user=charlie).exists()


def test_an_expired_invitation_cannot_be_accepted(band, alice, bob):
    invitation = invite(band=band, by=alice, username_or_email="bob")
    Invitation.objects.filter(pk=invitation.pk).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    with pytest.raises(BandError, match="no longer valid"):
        band_invitation_accept(user=bob, token=invitation.token)
    assert not Membership.objects.filter(user=bob).exists()


def test_an_invitation_works_once(band, alice, bob):
    invitation = invite(band=band, by=alice, username_or_email="bob")
    band_invitation_accept(user=bob, token=invitation.token)
    with pytest.raises(BandError, match="no longer valid"):
        band_invitation_accept(user=bob, token=invitation.token)
    with pytest.raises(BandError, match="no longer valid"):
        band_invitation_decline(user=bob, token=invitation.token)
    invitation.refresh_from_db()
    assert invitation.accepted is True
    assert Membership.objects.filter(band=band, user=bob).count() == 1


def test_a_wrong_token_is_no_longer_valid(band, alice, bob):
    invite(band=band, by=alice, username_or_email="bob")
    with pytest.raises(BandError, match="no longer valid"):
        band_invitation_accept(user=bob, token="not-the-token")


def test_an_invitation_can_be_accepted_by_its_id_from_the_account_page(band, alice, bob, charlie):
    invitation = invite(band=band, by=alice, username_or_email="bob")
    with pytest.raises(BandError, match="for someone else"):
        band_invitation_accept(user=charlie, invitation_id=invitation.pk)
    band_invitation_accept(user=bob, invitation_id=invitation.pk)
    assert Membership.objects.filter(band=band, user=bob).exists()


def test_declining_records_the_answer_and_makes_no_member(band, alice, bob):
    invitation = invite(band=band, by=alice, username_or_email="bob")
    band_invitation_decline(user=bob, token=invitation.token)
    invitation.refresh_from_db()
    assert invitation.accepted is False
    assert invitation.answered_at is not None
    assert not Membership.objects.filter(user=bob).exists()


def test_a_withdrawn_invitation_stops_working(band, alice, bob):
    invitation = invite(band=band, by=alice, username_or_email="bob")
    band_invitation_withdraw(band=band, by=alice, invitation_id=invitation.pk)
    invitation.refresh_from_db()
    assert (invitation.answered_at is not None, invitation.accepted) == (True, None)
    with pytest.raises(BandError, match="no longer valid"):
        band_invitation_accept(user=bob, token=invitation.token)


def test_only_the_owner_and_admins_withdraw_invitations(band, alice, bob, charlie):
    join(band, bob)
    invitation = invite(band=band, by=alice, username_or_email="charlie")
    with pytest.raises(BandError, match="owner and admins"):
        band_invitation_withdraw(band=band, by=bob, invitation_id=invitation.pk)
    invitation.refresh_from_db()
    assert invitation.answered_at is None


def test_accepting_closes_the_other_open_invitation_for_the_same_person(band, alice, password):
    by_mail = invite(band=band, by=alice, username_or_email="dora@example.com")
    dora = User.objects.create_user("dora", "dora@example.com", password)
    by_name = invite(band=band, by=alice, username_or_email="dora")
    band_invitation_accept(user=dora, token=by_name.token)
    by_mail.refresh_from_db()
    assert by_mail.answered_at is not None


# --- Members -----------------------------------------------------------------------------


def test_a_member_can_leave(band, bob):
    join(band, bob)
    assert band_leave(band=band, user=bob) is False
    assert not Membership.objects.filter(band=band, user=bob).exists()
    assert Band.objects.filter(pk=band.pk).exists()


def test_an_owner_with_bandmates_must_hand_the_band_over_before_leaving(band, alice, bob):
    join(band, bob)
    with pytest.raises(BandError, match="make another member the owner"):
        band_leave(band=band, user=alice)
    assert Membership.objects.get(band=band, user=alice).role == Role.OWNER


def test_the_last_member_leaving_deletes_the_band(band, alice, bob):
    invite(band=band, by=alice, username_or_email="bob")
    assert band_leave(band=band, user=alice) is True
    assert not Band.objects.filter(pk=band.pk).exists()
    assert not Invitation.objects.exists()


def test_the_owner_removes_a_member(band, alice, bob):
    join(band, bob)
    band_remove_member(band=band, by=alice, user=bob)
    assert not Membership.objects.filter(band=band, user=bob).exists()


def test_an_admin_cannot_remove_members(band, bob, charlie):
    join(band, bob, role=Role.ADMIN)
    join(band, charlie)
    with pytest.raises(BandError, match="Only the band's owner"):
        band_remove_member(band=band, by=bob, user=charlie)
    assert Membership.objects.filter(band=band, user=charlie).exists()


def test_the_owner_cannot_remove_themselves(band, alice):
    with pytest.raises(BandError, match="cannot remove yourself"):
        band_remove_member(band=band, by=alice, user=alice)
    assert Membership.objects.filter(band=band, user=alice).exists()


def test_the_owner_makes_a_member_an_admin_and_back(band, alice, bob):
    join(band, bob)
    band_set_role(band=band, by=alice, user=bob, role=Role.ADMIN)
    assert Membership.objects.get(band=band, user=bob).role == Role.ADMIN
    band_set_role(band=band, by=alice, user=bob, role=Role.MEMBER)
    assert Membership.objects.get(band=band, user=bob).role == Role.MEMBER


def test_the_owner_makes_a_member_a_viewer_and_back(band, alice, bob):
    join(band, bob)
    membership = band_set_role(band=band, by=alice, user=bob, role=Role.VIEWER)
    assert membership.role == Role.VIEWER
    assert Membership.objects.get(band=band, user=bob).role == Role.VIEWER
    assert not membership.rights.downloads and not membership.can_invite
    band_set_role(band=band, by=alice, user=bob, role=Role.MEMBER)
    assert Membership.objects.get(band=band, user=bob).rights.downloads


def test_an_admin_moves_people_between_member_and_viewer_and_no_further(band, alice, bob, charlie):
    join(band, bob, role=Role.ADMIN)
    join(band, charlie)
    band_set_role(band=band, by=bob, user=charlie, role=Role.VIEWER)
    assert Membership.objects.get(band=band, user=charlie).role == Role.VIEWER
    band_set_role(band=band, by=bob, user=charlie, role=Role.MEMBER)
    with pytest.raises(BandError, match="Only the band's owner"):
        band_set_role(band=band, by=bob, user=charlie, role=Role.ADMIN)
    with pytest.raises(BandError, match="Only the band's owner"):
        band_set_role(band=band, by=bob, user=bob, role=Role.VIEWER)  # not their own
    assert Membership.objects.get(band=band, user=charlie).role == Role.MEMBER
    assert Membership.objects.get(band=band, user=bob).role == Role.ADMIN


def test_members_and_viewers_change_no_roles(band, alice, bob, charlie):
    join(band, bob)
    join(band, charlie, role=Role.VIEWER)
    with pytest.raises(BandError, match="owner and admins"):
        band_set_role(band=band, by=bob, user=charlie, role=Role.MEMBER)
    with pytest.raises(BandError, match="owner and admins"):
        band_set_role(band=band, by=charlie, user=charlie, role=Role.MEMBER)
    assert Membership.objects.get(band=band, user=charlie).role == Role.VIEWER


def test_roles_change_only_by_the_owner_and_never_to_owner(band, alice, bob, charlie):
    join(band, bob, role=Role.ADMIN)
    join(band, charlie)
    with pytest.raises(BandError, match="Only the band's owner"):
        band_set_role(band=band, by=bob, user=charlie, role=Role.ADMIN)
    with pytest.raises(BandError, match="admin, member or viewer"):
        band_set_role(band=band, by=alice, user=charlie, role=Role.OWNER)
    with pytest.raises(BandError, match="admin, member or viewer"):
        band_set_role(band=band, by=alice, user=charlie, role="boss")
    with pytest.raises(BandError, match="owner stays the owner"):
        band_set_role(band=band, by=alice, user=alice, role=Role.MEMBER)
    assert Membership.objects.get(band=band, user=charlie).role == Role.MEMBER


def test_handing_the_band_over_makes_the_old_owner_an_admin(band, alice, bob):
    join(band, bob)
    band_transfer_ownership(band=band, by=alice, user=bob)
    roles = dict(Membership.objects.filter(band=band).values_list("user__username", "role"))
    assert roles == {"alice": Role.ADMIN, "bob": Role.OWNER}
    band_leave(band=band, user=alice)  # no longer the owner: free to go
    assert list(band.memberships.values_list("user__username", flat=True)) == ["bob"]


def test_only_the_owner_hands_the_band_over(band, alice, bob, charlie):
    join(band, bob, role=Role.ADMIN)
    join(band, charlie)
    with pytest.raises(BandError, match="Only the band's owner"):
        band_transfer_ownership(band=band, by=bob, user=charlie)
    with pytest.raises(BandError, match="not in The Jammers"):
        band_transfer_ownership(band=band, by=alice, user=User.objects.create_user("eve"))
    assert Membership.objects.get(band=band, role=Role.OWNER).user == alice
