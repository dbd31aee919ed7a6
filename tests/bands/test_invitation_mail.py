"""Invitation mail (issues 22 and 23): the link is built on the address the site is served
at, an invitation by e-mail says nothing about who owns the address, the mail leaves after
the commit (never under the band's row lock), and each inviter and address gets only so
many."""

import re

import pytest
from django.urls import reverse

from bands.models import Invitation
from tests.bands.conftest import link_in


def invite_from_the_page(client, band, wanted, **extra):
    return client.post(
        reverse("bands:invite", args=[band.pk]), {"username_or_email": wanted}, follow=True, **extra
    )


def answer(response, address: str) -> tuple:
    """What the inviter is told: where they end up and the messages, the address masked."""
    messages = re.search(r'<ul class="messages">.*?</ul>', response.content.decode(), re.S)
    return (
        response.status_code,
        [url for url, _ in response.redirect_chain],
        messages.group(0).replace(address, "ADDRESS") if messages else None,
    )


def test_an_invitation_by_e_mail_answers_the_same_with_and_without_an_account(
    alice_client, band, charlie, outbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        owned = invite_from_the_page(alice_client, band, "charlie@example.com")
    with django_capture_on_commit_callbacks(execute=True):
        unowned = invite_from_the_page(alice_client, band, "charles@example.com")
    assert answer(owned, "charlie@example.com") == answer(unowned, "charles@example.com")
    assert "Invitation sent to charlie@example.com." in owned.content.decode()
    # The list of open invitations shows the address, not the account that has it.
    page = alice_client.get(reverse("bands:detail", args=[band.pk])).content.decode()
    assert "<strong><bdi>charlie@example.com</bdi></strong>" in page
    assert "<bdi>charlie</bdi>" not in page
    assert [m.to for m in outbox] == [["charlie@example.com"], ["charles@example.com"]]
    assert outbox[0].body.replace("charlie", "X").startswith("Hello,")
    assert not Invitation.objects.exclude(user=None).exists()  # matched when followed


def test_the_account_with_the_address_is_matched_when_the_link_is_followed(
    alice_client, band, charlie, charlie_client, outbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        invite_from_the_page(alice_client, band, "Charlie@Example.com")
    link = link_in(outbox[0]).split("testserver", 1)[1]
    assert charlie_client.get(link).status_code == 200
    response = charlie_client.post(link, {"answer": "accept"})
    assert response.status_code == 302
    assert band.memberships.filter(user=charlie).exists()


def test_the_link_is_on_the_host_and_port_the_request_came_to(
    alice_client, band, outbox, django_capture_on_commit_callbacks
):
    """What `scripts/run --port 8401` does: the browser asks for 127.0.0.1:8401, so the
    request's host carries the port; nothing else on the way differs."""
    with django_capture_on_commit_callbacks(execute=True):
        invite_from_the_page(alice_client, band, "new@example.com", HTTP_HOST="127.0.0.1:8401")
    assert link_in(outbox[0]).startswith("http://127.0.0.1:8401/bands/invitations/")
    assert "http://127.0.0.1:8401/accounts/signup/" in outbox[0].body


def test_jam_site_url_wins_over_the_request_when_it_is_set(
    settings, alice_client, band, outbox, django_capture_on_commit_callbacks
):
    settings.JAM_SITE_URL = "https://jam.example.org"
    with django_capture_on_commit_callbacks(execute=True):
        invite_from_the_page(alice_client, band, "new@example.com", HTTP_HOST="127.0.0.1:8401")
    assert link_in(outbox[0]).startswith("https://jam.example.org/bands/invitations/")


def test_the_mail_leaves_after_the_commit_not_under_the_bands_lock(
    alice_client, band, outbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False) as after_commit:
        invite_from_the_page(alice_client, band, "new@example.com")
    assert outbox == []  # nothing sent inside the transaction that locked the band
    assert Invitation.objects.filter(email="new@example.com").exists()
    for callback in after_commit:
        callback()
    assert [m.to for m in outbox] == [["new@example.com"]]


@pytest.mark.parametrize("wanted", ["same", "different"])
def test_an_inviter_and_an_address_get_only_so_many_mails_and_the_same_answer(
    settings, alice_client, alice, outbox, django_capture_on_commit_callbacks, wanted
):
    """The same address in 10 bands, or 10 addresses from one inviter: the limits hold,
    and each answer is the one a sent mail gets."""
    from bands.services import band_create

    settings.JAM_MAIL_PER_RECIPIENT, settings.JAM_MAIL_PER_REQUESTER = 3, 5
    answers = set()
    for n in range(10):
        band = band_create(owner=alice, name=f"Band {n}").band
        address = "target@example.com" if wanted == "same" else f"person{n}@example.com"
        with django_capture_on_commit_callbacks(execute=True):
            response = invite_from_the_page(alice_client, band, address)
        status, chain, messages = answer(response, address)
        answers.add((status, len(chain), messages.replace(band.name, "BAND")))
    assert len(answers) == 1
    assert len(outbox) == (3 if wanted == "same" else 5)
    assert Invitation.objects.count() == 10  # the invitations stand; only mail is limited
