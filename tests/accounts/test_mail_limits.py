"""Mail visitors can make the site send is limited per recipient and per requester
(issue 22, item 5), with the same answer every time, and leaves after the commit."""

from django.contrib.auth.models import User
from django.core import mail
from django.urls import reverse

from accounts.mail import SIGN_UP, mail_allowed


def ask_for_a_reset(client, email, **extra):
    return client.post(reverse("password_reset"), {"email": email}, follow=True, **extra)


def sign_up_as(client, username, email, **extra):
    return client.post(
        reverse("signup"),
        {
            "username": username,
            "email": email,
            "password1": "Strum-the-chords-77",
            "password2": "Strum-the-chords-77",
        },
        follow=True,
        **extra,
    )


def answer(response) -> tuple:
    return response.status_code, tuple(response.redirect_chain), response.content


def test_forty_reset_requests_for_one_address_send_at_most_the_limit_with_one_answer(
    client, alice, settings, django_capture_on_commit_callbacks
):
    settings.JAM_MAIL_PER_REQUESTER = 1000  # the per-address limit alone, here
    answers = set()
    for n in range(40):
        # From 40 addresses, as a botnet would: the recipient's limit still holds.
        with django_capture_on_commit_callbacks(execute=True):
            response = ask_for_a_reset(client, "alice@example.com", REMOTE_ADDR=f"10.0.0.{n}")
        answers.add(answer(response))
    assert len(answers) == 1
    assert [m.to for m in mail.outbox] == [["alice@example.com"]] * settings.JAM_MAIL_PER_RECIPIENT


def test_one_requester_gets_only_so_many_reset_mails_across_addresses(
    client, db, password, settings, django_capture_on_commit_callbacks
):
    for n in range(30):
        User.objects.create_user(f"user{n}", f"user{n}@example.com", password)
    answers = set()
    for n in range(30):
        with django_capture_on_commit_callbacks(execute=True):
            answers.add(answer(ask_for_a_reset(client, f"user{n}@example.com")))
    assert len(answers) == 1
    assert len(mail.outbox) == settings.JAM_MAIL_PER_REQUESTER


def test_twenty_sign_ups_with_bobs_address_send_at_most_the_limit_with_one_answer(
    client, bob, settings, django_capture_on_commit_callbacks
):
    settings.JAM_MAIL_PER_REQUESTER = 1000
    answers = set()
    for n in range(20):
        with django_capture_on_commit_callbacks(execute=True):
            response = sign_up_as(client, f"bobby{n}", "bob@example.com", REMOTE_ADDR=f"10.0.1.{n}")
        answers.add(answer(response))
    assert len(answers) == 1
    sent = [m for m in mail.outbox if m.to == ["bob@example.com"]]
    assert len(sent) == len(mail.outbox) == settings.JAM_MAIL_PER_RECIPIENT
    assert {m.subject for m in sent} == {"Someone tried to sign up to JamWithMe with your address"}


def test_a_sign_up_answers_the_same_for_an_address_with_an_account_once_over_the_limit(
    client, bob, settings, django_capture_on_commit_callbacks
):
    """Over the limit no mail goes out, to a taken or a new address: the answer is the one
    a sent mail gets, so it tells nothing either way."""
    settings.JAM_MAIL_PER_RECIPIENT = 1
    with django_capture_on_commit_callbacks(execute=True):
        first = sign_up_as(client, "bobby", "bob@example.com")
        again = sign_up_as(client, "bobby2", "bob@example.com")
        new = sign_up_as(client, "newbie", "newbie@example.com")
    assert answer(first) == answer(again) == answer(new)
    assert [m.to for m in mail.outbox] == [["bob@example.com"], ["newbie@example.com"]]


def test_the_mail_waits_for_the_commit(client, alice, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as after_commit:
        ask_for_a_reset(client, "alice@example.com")
    assert mail.outbox == []
    for callback in after_commit:
        callback()
    assert [m.to for m in mail.outbox] == [["alice@example.com"]]


def test_the_limits_count_per_kind_address_and_requester(db, settings):
    settings.JAM_MAIL_PER_RECIPIENT, settings.JAM_MAIL_PER_REQUESTER = 2, 3
    sent = [
        mail_allowed(kind=SIGN_UP, recipient="A@example.com", requester="ip:10.0.0.1"),
        mail_allowed(kind=SIGN_UP, recipient="a@example.com", requester="ip:10.0.0.2"),
        mail_allowed(kind=SIGN_UP, recipient="a@example.com", requester="ip:10.0.0.3"),
    ]
    assert sent == [True, True, False]  # the address, whatever its case, had its 2
    assert mail_allowed(kind="invitation", recipient="a@example.com", requester="user:1")
    by_one = [
        mail_allowed(kind=SIGN_UP, recipient=f"x{n}@example.com", requester="ip:10.9.9.9")
        for n in range(4)
    ]
    assert by_one == [True, True, True, False]
