"""The bands pages: members only (404 for anyone else), POST for every change, GET never
changes anything."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from bands.models import Band, Invitation, Membership
from bands.services import band_create
from tests.bands.conftest import invite, join, link_in

Role = Membership.Role


def band_urls(band, user_id):
    """Every URL of one band, with the method that uses it."""
    return [
        ("get", reverse("bands:detail", args=[band.pk])),
        ("post", reverse("bands:invite", args=[band.pk])),
        ("post", reverse("bands:invitation_withdraw", args=[band.pk, 1])),
        ("post", reverse("bands:leave", args=[band.pk])),
        ("post", reverse("bands:remove", args=[band.pk, user_id])),
        ("post", reverse("bands:role", args=[band.pk, user_id])),
        ("post", reverse("bands:owner", args=[band.pk, user_id])),
    ]


def test_the_bands_page_lists_my_bands_with_my_role_and_the_member_count(alice_client, band, bob):
    join(band, bob)
    band_create(owner=bob, name="Bob's other band")
    response = alice_client.get(reverse("bands:list"))
    assert response.status_code == 200
    page = response.content.decode()
    assert "The Jammers" in page
    assert "Owner · 2 members" in page
    assert "Bob&#x27;s other band" not in page


def test_the_bands_page_lists_my_open_invitations_with_buttons(bob_client, band, alice):
    invitation = invite(band=band, by=alice, username_or_email="bob@example.com")
    page = bob_client.get(reverse("bands:list")).content.decode()
    assert "The Jammers" in page
    assert "from <bdi>alice</bdi>" in page
    assert reverse("bands:answer", args=[invitation.pk]) in page
    assert 'value="accept"' in page and 'value="decline"' in page


def test_the_top_navigation_links_to_bands(alice_client):
    assert reverse("bands:list") in alice_client.get(reverse("bands:list")).content.decode()


def test_an_anonymous_visitor_is_sent_to_log_in(client, band):
    response = client.get(reverse("bands:list"))
    assert response.status_code == 302
    assert response.url.startswith(reverse("login"))


def test_creating_a_band_takes_me_to_its_page(alice_client, alice):
    response = alice_client.post(reverse("bands:create"), {"name": "Night Owls"})
    band = Band.objects.get(name="Night Owls")
    assert response.status_code == 302
    assert response.url == reverse("bands:detail", args=[band.pk])
    assert Membership.objects.get(band=band).user == alice


def test_a_band_with_no_name_is_not_created(alice_client):
    response = alice_client.post(reverse("bands:create"), {"name": "  "})
    assert response.status_code == 200
    assert not Band.objects.exists()


def test_the_band_page_shows_members_and_the_owners_controls(alice_client, band, bob):
    join(band, bob)
    response = alice_client.get(reverse("bands:detail", args=[band.pk]))
    assert response.status_code == 200
    page = response.content.decode()
    assert "bob" in page
    assert reverse("bands:remove", args=[band.pk, bob.pk]) in page
    assert reverse("bands:owner", args=[band.pk, bob.pk]) in page
    assert reverse("bands:invite", args=[band.pk]) in page


def test_a_plain_member_sees_no_controls_but_leave(bob_client, band, bob, alice):
    join(band, bob)
    page = bob_client.get(reverse("bands:detail", args=[band.pk])).content.decode()
    assert reverse("bands:leave", args=[band.pk]) in page
    assert reverse("bands:invite", args=[band.pk]) not in page
    assert reverse("bands:remove", args=[band.pk, alice.pk]) not in page


@pytest.mark.parametrize("index", range(7))
def test_an_outsider_gets_404_for_every_band_url(bob_client, band, alice, index):
    method, url = band_urls(band, alice.pk)[index]
    response = getattr(bob_client, method)(url, {"role": "admin", "username_or_email": "bob"})
    assert response.status_code == 404
    assert list(band.memberships.values_list("user__username", "role")) == [("alice", "owner")]
    assert not Invitation.objects.exists()


@pytest.mark.parametrize("index", range(1, 7))
def test_every_change_refuses_get(alice_client, band, bob, index):
    join(band, bob)
    _, url = band_urls(band, bob.pk)[index]
    assert alice_client.get(url).status_code == 405
    assert Membership.objects.filter(band=band).count() == 2


def test_the_owner_invites_from_the_band_page(
    alice_client, band, bob, outbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = alice_client.post(
            reverse("bands:invite", args=[band.pk]), {"username_or_email": "bob"}
        )
    assert response.status_code == 302
    assert Invitation.objects.get().user == bob
    assert len(outbox) == 1
    page = alice_client.get(response.url).content.decode()
    assert "Invitation sent to bob." in page
    assert "Waiting for an answer" in page


def test_the_owner_invites_a_viewer_from_the_band_page(alice_client, band, bob):
    response = alice_client.post(
        reverse("bands:invite", args=[band.pk]),
        {"username_or_email": "bob", "role": "viewer"},
        follow=True,
    )
    assert Invitation.objects.get().role == Role.VIEWER
    page = response.content.decode()
    assert "Invitation sent to bob, to join as a viewer." in page
    assert "as viewer · invited by <bdi>alice</bdi>" in page


def test_an_admin_is_offered_the_roles_they_may_give(bob_client, band, bob, charlie):
    join(band, bob, role=Role.ADMIN)
    join(band, charlie)
    page = bob_client.get(reverse("bands:detail", args=[band.pk])).content.decode()
    assert 'aria-label="Make charlie a viewer"' in page
    assert 'aria-label="Make charlie an admin"' not in page
    assert 'aria-label="Make alice' not in page  # the owner's role is not theirs to change
    assert '<option value="admin"' not in page and '<option value="viewer"' in page
    bob_client.post(reverse("bands:role", args=[band.pk, charlie.pk]), {"role": "viewer"})
    assert Membership.objects.get(band=band, user=charlie).role == Role.VIEWER


def test_a_viewer_is_told_what_the_role_allows(charlie_client, band, charlie):
    join(band, charlie, role=Role.VIEWER)
    page = charlie_client.get(reverse("bands:detail", args=[band.pk])).content.decode()
    assert "You are a viewer" in page
    assert "you cannot download or export them" in page
    assert "Make " not in page and "Invite someone" not in page


def test_a_refused_invitation_shows_the_reason(alice_client, band, bob):
    join(band, bob)
    response = alice_client.post(
        reverse("bands:invite", args=[band.pk]), {"username_or_email": "bob"}, follow=True
    )
    assert response.status_code == 200
    assert "bob is in The Jammers already." in response.content.decode()


def test_a_member_posting_an_owners_action_is_refused_with_the_reason(bob_client, band, bob, alice):
    join(band, bob)
    response = bob_client.post(reverse("bands:remove", args=[band.pk, alice.pk]), follow=True)
    assert "Only the band&#x27;s owner can do that." in response.content.decode()
    assert Membership.objects.filter(band=band, user=alice).exists()


def test_the_owner_changes_roles_hands_over_and_removes(alice_client, band, bob, charlie):
    join(band, bob)
    join(band, charlie)
    alice_client.post(reverse("bands:role", args=[band.pk, bob.pk]), {"role": "admin"})
    assert Membership.objects.get(band=band, user=bob).role == Role.ADMIN
    alice_client.post(reverse("bands:remove", args=[band.pk, charlie.pk]))
    assert not Membership.objects.filter(band=band, user=charlie).exists()
    alice_client.post(reverse("bands:owner", args=[band.pk, bob.pk]))
    roles = dict(Membership.objects.filter(band=band).values_list("user__username", "role"))
    assert roles == {"alice": Role.ADMIN, "bob": Role.OWNER}


def test_leaving_takes_me_to_my_bands(bob_client, band, bob):
    join(band, bob)
    response = bob_client.post(reverse("bands:leave", args=[band.pk]))
    assert response.status_code == 302
    assert response.url == reverse("bands:list")
    assert not Membership.objects.filter(band=band, user=bob).exists()


def test_an_admin_withdraws_an_invitation(bob_client, band, bob, alice, charlie):
    join(band, bob, role=Role.ADMIN)
    invitation = invite(band=band, by=alice, username_or_email="charlie")
    response = bob_client.post(reverse("bands:invitation_withdraw", args=[band.pk, invitation.pk]))
    assert response.status_code == 302
    invitation.refresh_from_db()
    assert invitation.answered_at is not None


# --- The invitation link -----------------------------------------------------------------


@pytest.fixture
def invitation(band, alice, bob, outbox):
    invitation = invite(band=band, by=alice, username_or_email="bob")
    invitation.url = link_in(outbox[0]).split("://", 1)[1].split("/", 1)[1]
    invitation.url = "/" + invitation.url
    return invitation


def test_the_link_in_the_e_mail_shows_the_band_and_the_inviter(bob_client, invitation):
    response = bob_client.get(invitation.url)
    assert response.status_code == 200
    page = response.content.decode()
    assert "The Jammers" in page
    assert "<bdi>alice</bdi> invited you" in page
    assert 'value="accept"' in page
    invitation.refresh_from_db()
    assert invitation.answered_at is None  # GET changes nothing
    assert not Membership.objects.filter(user__username="bob").exists()


def test_an_anonymous_visitor_is_sent_to_log_in_and_back(client, invitation):
    response = client.get(invitation.url)
    assert response.status_code == 302
    assert response.url == f"{reverse('login')}?next={invitation.url}"


def test_accepting_through_the_link_makes_me_a_member(bob_client, band, bob, invitation):
    response = bob_client.post(invitation.url, {"answer": "accept"})
    assert response.status_code == 302
    assert response.url == reverse("bands:detail", args=[band.pk])
    assert Membership.objects.get(band=band, user=bob).role == Role.MEMBER


def test_declining_through_the_link(bob_client, bob, invitation):
    response = bob_client.post(invitation.url, {"answer": "decline"})
    assert response.status_code == 302
    invitation.refresh_from_db()
    assert invitation.accepted is False
    assert not Membership.objects.filter(user=bob).exists()


def test_someone_else_opening_the_link_cannot_answer_it(charlie_client, charlie, invitation):
    response = charlie_client.get(invitation.url)
    assert response.status_code == 403
    assert 'value="accept"' not in response.content.decode()
    response = charlie_client.post(invitation.url, {"answer": "accept"})
    assert response.status_code == 404
    assert not Membership.objects.filter(user=charlie).exists()
    invitation.refresh_from_db()
    assert invitation.answered_at is None


@pytest.mark.parametrize("state", ["wrong", "expired", "used", "withdrawn", "band deleted"])
def test_a_link_that_no_longer_works_says_so_and_nothing_more(bob_client, band, invitation, state):
    url = invitation.url
    if state == "wrong":
        other = "y" if invitation.token.startswith("x") else "x"  # never the same token
        url = reverse("bands:invitation", args=[other + invitation.token[1:]])
    elif state == "expired":
        Invitation.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    elif state in ("used", "withdrawn"):
        Invitation.objects.update(answered_at=timezone.now(), accepted=state == "used" or None)
    else:
        band.delete()
    response = bob_client.get(url)
    assert response.status_code == 404
    page = response.content.decode()
    assert "This invitation is no longer valid." in page
    assert "The Jammers" not in page
    assert bob_client.post(url, {"answer": "accept"}).status_code == 404
    assert not Membership.objects.filter(user__username="bob").exists()


def test_the_account_page_buttons_answer_my_invitation(bob_client, band, bob, invitation):
    response = bob_client.post(reverse("bands:answer", args=[invitation.pk]), {"answer": "accept"})
    assert response.status_code == 302
    assert Membership.objects.filter(band=band, user=bob).exists()


def test_the_account_page_buttons_refuse_someone_elses_invitation(
    charlie_client, charlie, invitation
):
    response = charlie_client.post(
        reverse("bands:answer", args=[invitation.pk]), {"answer": "accept"}, follow=True
    )
    assert "This invitation is for someone else." in response.content.decode()
    assert not Membership.objects.filter(user=charlie).exists()
    assert charlie_client.get(reverse("bands:answer", args=[invitation.pk])).status_code == 405
