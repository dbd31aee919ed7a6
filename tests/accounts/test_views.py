import re

from django.core import mail
from django.urls import reverse


def test_it_logs_in_with_the_right_password(client, alice, password):
    response = client.post(reverse("login"), {"username": "alice", "password": password})
    assert response.status_code == 302
    assert response["Location"] == reverse("tracks:library")


def test_it_refuses_a_wrong_password(client, alice):
    response = client.post(reverse("login"), {"username": "alice", "password": "nope"})
    assert response.status_code == 200
    assert "_auth_user_id" not in client.session


def test_it_logs_out_on_post(alice_client):
    response = alice_client.post(reverse("logout"))
    assert response.status_code == 302
    assert "_auth_user_id" not in alice_client.session


def test_it_changes_the_password(alice_client, alice, password):
    response = alice_client.post(
        reverse("password_change"),
        {
            "old_password": password,
            "new_password1": "Another-long-riff-99",
            "new_password2": "Another-long-riff-99",
        },
    )
    assert response.status_code == 302
    alice.refresh_from_db()
    assert alice.check_password("Another-long-riff-99")


def test_password_reset_sends_a_mail_with_a_working_link(
    client, alice, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("password_reset"), {"email": "alice@example.com"})
    assert response.status_code == 302
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["alice@example.com"]
    link = re.search(r"http://testserver(/accounts/reset/\S+/)", mail.outbox[0].body).group(1)
    form_page = client.get(link, follow=True)
    assert form_page.status_code == 200
    response = client.post(
        form_page.redirect_chain[-1][0],
        {"new_password1": "Fresh-strings-2024", "new_password2": "Fresh-strings-2024"},
    )
    assert response.status_code == 302
    alice.refresh_from_db()
    assert alice.check_password("Fresh-strings-2024")


def test_password_reset_for_an_unknown_address_sends_nothing(client, db):
    response = client.post(reverse("password_reset"), {"email": "nobody@example.com"})
    assert response.status_code == 302
    assert mail.outbox == []


def test_password_reset_answers_the_same_for_a_known_and_an_unknown_address(
    client, alice, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        known = client.post(reverse("password_reset"), {"email": "alice@example.com"}, follow=True)
        unknown = client.post(
            reverse("password_reset"), {"email": "nobody@example.com"}, follow=True
        )
    assert known.redirect_chain == unknown.redirect_chain
    assert known.status_code == unknown.status_code == 200
    assert known.content == unknown.content
    assert [message.to for message in mail.outbox] == [["alice@example.com"]]
