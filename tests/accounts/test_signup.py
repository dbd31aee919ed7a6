"""Sign-up answers the same whether or not the e-mail address has an account; the account
is created by a one-time, expiring link sent to that address."""

import re
from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.core import mail
from django.test import TestCase
from django.urls import reverse

from accounts.models import PendingSignUp

SENT = "Check your e-mail to finish signing up"


def sign_up(client, username="carol", email="carol@example.com", **extra):
    """Post the sign-up form; what waits for the commit (the e-mail) runs, as after a
    request's own."""
    with TestCase.captureOnCommitCallbacks(execute=True):
        return _post(client, username, email, **extra)


def _post(client, username, email, **extra):
    return client.post(
        reverse("signup"),
        {
            "username": username,
            "email": email,
            "password1": "Strum-the-chords-77",
            "password2": "Strum-the-chords-77",
        },
        **extra,
    )


def link_in(message) -> str:
    return re.search(r"http://testserver(/accounts/signup/confirm/\S+/)", message.body).group(1)


def test_sign_up_creates_no_account_until_the_address_is_confirmed(client, db):
    response = sign_up(client)
    assert response.status_code == 302
    assert response["Location"] == reverse("signup_sent")
    assert SENT in client.get(response["Location"]).content.decode()
    assert not User.objects.filter(username="carol").exists()
    assert "_auth_user_id" not in client.session
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["carol@example.com"]
    assert mail.outbox[0].subject == "Finish signing up to JamWithMe"


def test_the_link_creates_the_account_and_logs_in(client, db):
    sign_up(client)
    link = link_in(mail.outbox[0])
    page = client.get(link)
    assert page.status_code == 200
    assert "carol" in page.content.decode()
    assert not User.objects.filter(username="carol").exists()  # a GET changes nothing
    response = client.post(link)
    assert response.status_code == 302
    assert response["Location"] == reverse("tracks:library")
    user = User.objects.get(username="carol")
    assert user.email == "carol@example.com"
    assert user.is_active
    assert user.check_password("Strum-the-chords-77")
    assert client.session["_auth_user_id"] == str(user.pk)
    assert client.get(reverse("tracks:library")).status_code == 200


def test_a_new_and_a_taken_address_get_identical_answers(client, alice):
    new = sign_up(client, username="carol", email="carol@example.com", follow=True)
    taken = sign_up(client, username="alice2", email="ALICE@example.com", follow=True)
    assert new.redirect_chain == taken.redirect_chain
    assert new.status_code == taken.status_code == 200
    assert new.content == taken.content
    assert not User.objects.filter(username="alice2").exists()


def test_a_taken_address_is_told_someone_tried_with_links_to_log_in_and_reset(client, alice):
    sign_up(client, username="alice2", email="ALICE@example.com")
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["ALICE@example.com"]
    assert message.subject == "Someone tried to sign up to JamWithMe with your address"
    assert "http://testserver/accounts/login/" in message.body
    assert "http://testserver/accounts/password_reset/" in message.body
    assert "alice" in message.body
    assert "/signup/confirm/" not in message.body
    assert not PendingSignUp.objects.exists()


def test_a_taken_address_does_not_reserve_the_username_either(client, alice):
    """Otherwise trying the username again would tell whether the address was taken."""
    sign_up(client, username="alice2", email="alice@example.com")
    response = sign_up(client, username="alice2", email="someone@example.com")
    assert response.status_code == 302
    sign_up(client, username="dora", email="dora@example.com")
    response = sign_up(client, username="dora", email="someone@example.com")
    assert response.status_code == 302  # an unconfirmed sign-up reserves nothing


def test_a_taken_username_is_still_reported(client, alice):
    """Usernames are public handles, shown to others: saying one is taken reveals nothing."""
    response = sign_up(client, username="Alice", email="new@example.com")
    assert response.status_code == 200
    assert "A user with that username already exists." in response.content.decode()
    assert mail.outbox == []


def test_the_link_works_only_once(client, db):
    sign_up(client)
    link = link_in(mail.outbox[0])
    assert client.post(link).status_code == 302
    client.post(reverse("logout"))
    again = client.post(link)
    assert again.status_code == 404
    assert "expired or has already been used" in again.content.decode()
    assert client.get(link).status_code == 404
    assert User.objects.filter(username="carol").count() == 1
    assert "_auth_user_id" not in client.session


def test_the_link_expires(client, db, settings):
    settings.JAM_SIGNUP_LINK_HOURS = 24
    sign_up(client)
    link = link_in(mail.outbox[0])
    PendingSignUp.objects.update(
        created_at=PendingSignUp.objects.get().created_at - timedelta(hours=25)
    )
    assert client.get(link).status_code == 404
    response = client.post(link)
    assert response.status_code == 404
    assert "expired or has already been used" in response.content.decode()
    assert not User.objects.filter(username="carol").exists()


def test_a_made_up_link_does_nothing(client, db):
    response = client.post(reverse("signup_confirm", args=["made-up-token"]))
    assert response.status_code == 404
    assert not User.objects.exists()


def test_the_first_of_two_links_for_one_address_wins(client, db):
    sign_up(client, username="carol")
    sign_up(client, username="caroline")
    first, second = (link_in(message) for message in mail.outbox)
    assert client.post(second).status_code == 302
    client.post(reverse("logout"))
    assert client.post(first).status_code == 404
    assert list(User.objects.values_list("username", flat=True)) == ["caroline"]


def test_a_username_taken_after_sign_up_is_explained(client, db, password):
    sign_up(client, username="carol")
    User.objects.create_user("Carol", "other@example.com", password)
    response = client.post(link_in(mail.outbox[0]))
    assert response.status_code == 404
    assert "Someone took the username" in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_an_unconfirmed_sign_up_cannot_log_in(client, db):
    sign_up(client)
    response = client.post(
        reverse("login"), {"username": "carol", "password": "Strum-the-chords-77"}
    )
    assert response.status_code == 200
    assert "_auth_user_id" not in client.session


def test_without_an_email_server_the_page_says_the_link_is_in_the_terminal(client, db, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"
    response = sign_up(client, follow=True)
    page = response.content.decode()
    assert SENT in page
    assert "printed in the terminal running JamWithMe" in page


def test_with_an_email_server_the_page_does_not_mention_the_terminal(client, db):
    response = sign_up(client, follow=True)
    assert "terminal" not in response.content.decode()


@pytest.mark.parametrize("email", ["carol@example.com", "alice@example.com"])
def test_a_logged_in_user_is_sent_to_the_library(alice_client, email):
    response = sign_up(alice_client, email=email)
    assert response.status_code == 302
    assert response["Location"] == reverse("tracks:library")
    assert mail.outbox == []
