"""Sign-in throttling (django-axes) on the site's login and the admin's: an account from
one address, an account from anywhere, and an address's ceiling, each with its own limit."""

from datetime import timedelta
from io import StringIO

import pytest
from axes.models import AccessAttempt
from django.contrib.auth.models import User
from django.core.management import call_command
from django.test import AsyncClient, Client, RequestFactory
from django.urls import reverse

from accounts.services import user_suspend
from accounts.throttling import client_ip

LOCKED = "Too many failed sign-in attempts. Try again in 15 minutes."
SITE_LOGIN = "/accounts/login/"
ADMIN_LOGIN = "/admin/login/?next=/admin/"


@pytest.fixture(autouse=True)
def limits(settings):
    settings.AXES_FAILURE_LIMIT = 5
    settings.JAM_LOGIN_USERNAME_LIMIT = 15
    settings.JAM_LOGIN_ADDRESS_LIMIT = 30
    settings.AXES_COOLOFF_TIME = timedelta(minutes=15)


def fail(client, url, username, times, **extra):
    for _ in range(times):
        response = client.post(url, {"username": username, "password": "wrong"}, **extra)
    return response


def logged_in(client) -> bool:
    return "_auth_user_id" in client.session


def travel(minutes: float) -> None:
    """Move every counted failure `minutes` into the past."""
    for attempt in AccessAttempt.objects.all():
        attempt.attempt_time -= timedelta(minutes=minutes)
        attempt.save(update_fields=["attempt_time"])


def test_four_failures_still_let_the_right_password_in(client, alice, password):
    assert fail(client, SITE_LOGIN, "alice", 4).status_code == 200
    response = client.post(SITE_LOGIN, {"username": "alice", "password": password})
    assert response.status_code == 302
    assert logged_in(client)


def test_the_fifth_failure_locks_the_site_login_with_a_clear_page(client, alice):
    response = fail(client, SITE_LOGIN, "alice", 5)
    assert response.status_code == 429
    page = response.content.decode()
    assert LOCKED in page
    assert "<title>Too many attempts · JamWithMe</title>" in page  # the site's styled page


def test_the_right_password_is_refused_during_a_lockout(client, alice, password):
    fail(client, SITE_LOGIN, "alice", 5)
    response = client.post(SITE_LOGIN, {"username": "alice", "password": password})
    assert response.status_code == 429
    assert LOCKED in response.content.decode()
    assert not logged_in(client)


def test_the_admin_login_locks_out_too(client, staff, password):
    assert fail(client, ADMIN_LOGIN, "stan", 4).status_code == 200
    response = fail(client, ADMIN_LOGIN, "stan", 1)
    assert response.status_code == 429
    assert LOCKED in response.content.decode()
    response = client.post(ADMIN_LOGIN, {"username": "stan", "password": password})
    assert response.status_code == 429
    assert not logged_in(client)


def test_failures_on_the_admin_and_the_site_add_up(client, staff, password):
    fail(client, ADMIN_LOGIN, "stan", 3)
    response = fail(client, SITE_LOGIN, "stan", 2)
    assert response.status_code == 429


def test_alice_and_the_moderator_log_in_while_bob_is_locked_out_from_the_same_address(
    client, alice, bob, moderator, password
):
    """The office of issue 23: bob's typos and a suspended user's attempt lock out bob
    alone; his neighbours on the address get in."""
    carol = User.objects.create_user("carol", "carol@example.com", password)
    user_suspend(user=carol, by=moderator, reason="Spam.")
    client.post(SITE_LOGIN, {"username": "carol", "password": password})  # suspended
    assert fail(client, SITE_LOGIN, "bob", 5).status_code == 429
    assert client.post(SITE_LOGIN, {"username": "bob", "password": password}).status_code == 429
    for name in ("alice", "mona"):
        other = Client()  # another browser at the same address (the test client's)
        response = other.post(SITE_LOGIN, {"username": name, "password": password})
        assert response.status_code == 302, name
        assert logged_in(other)


def test_spraying_20_usernames_from_one_address_hits_the_address_ceiling(client, alice, password):
    """Two guesses at each of 20 accounts stay under each account's limit (5 from an address,
    15 from anywhere) and reach the address's ceiling of 30 at the 30th."""
    statuses = []
    for number in range(20):
        for _ in range(2):
            statuses.append(fail(client, SITE_LOGIN, f"user{number}", 1).status_code)
    assert statuses[:29] == [200] * 29
    assert set(statuses[29:]) == {429}
    assert client.post(SITE_LOGIN, {"username": "alice", "password": password}).status_code == 429
    elsewhere = Client(REMOTE_ADDR="198.51.100.7")
    response = elsewhere.post(SITE_LOGIN, {"username": "alice", "password": password})
    assert response.status_code == 302  # the address is locked, not alice


def test_a_suspended_users_attempts_do_not_count_against_the_address(
    client, alice, moderator, password
):
    carol = User.objects.create_user("carol", "carol@example.com", password)
    user_suspend(user=carol, by=moderator, reason="Spam.")
    for _ in range(3):
        client.post(SITE_LOGIN, {"username": "carol", "password": password})
        client.post(SITE_LOGIN, {"username": "carol", "password": "wrong"})
    assert fail(client, SITE_LOGIN, "bob", 4).status_code == 200
    for number in range(25):  # 4 + 25 = 29 failures from the address: under the ceiling
        fail(client, SITE_LOGIN, f"user{number}", 1)
    assert client.post(SITE_LOGIN, {"username": "alice", "password": password}).status_code == 302


def test_unlock_lets_a_locked_out_staff_member_in_from_the_same_address(client, staff, password):
    fail(client, ADMIN_LOGIN, "stan", 5)
    assert client.post(ADMIN_LOGIN, {"username": "stan", "password": password}).status_code == 429
    out = StringIO()
    call_command("unlock", "stan", stdout=out)
    assert "Unlocked account 'stan'" in out.getvalue()
    response = client.post(ADMIN_LOGIN, {"username": "stan", "password": password})
    assert response.status_code == 302
    assert logged_in(client)


def test_unlock_with_an_address_lifts_the_spraying_ceiling(client, staff, password):
    for number in range(30):
        fail(client, SITE_LOGIN, f"user{number}", 1)
    assert client.post(ADMIN_LOGIN, {"username": "stan", "password": password}).status_code == 429
    call_command("unlock", "stan", address="127.0.0.1", stdout=StringIO())
    assert client.post(ADMIN_LOGIN, {"username": "stan", "password": password}).status_code == 302


def test_the_admin_says_which_counter_locks_not_one_rows_attempts(client, alice, bob, password):
    fail(client, SITE_LOGIN, "bob", 5)
    for number in range(25):
        fail(client, SITE_LOGIN, f"user{number}", 1)
    root = User.objects.create_superuser("root", "root@example.com", password)
    admin = Client(REMOTE_ADDR="198.51.100.7")
    admin.force_login(root)
    page = admin.get(reverse("admin:axes_accessattempt_changelist")).content.decode()
    assert "Locked: address (30 of 30 failures)" in page
    assert "Locked: account from this address (5 of 5 failures); address (30 of 30" in page
    assert "attempt remaining" not in page


def test_a_username_that_does_not_exist_locks_out_the_same_way(client, db):
    response = fail(client, SITE_LOGIN, "nobody", 5)
    assert response.status_code == 429
    assert LOCKED in response.content.decode()


def test_the_lockout_expires(client, alice, password):
    fail(client, SITE_LOGIN, "alice", 5)
    travel(14)
    response = client.post(SITE_LOGIN, {"username": "alice", "password": password})
    assert response.status_code == 429
    assert "Try again in 1 minute." in response.content.decode()
    travel(1.5)
    response = client.post(SITE_LOGIN, {"username": "alice", "password": password})
    assert response.status_code == 302
    assert logged_in(client)


def test_attempts_during_a_lockout_do_not_extend_it(client, alice, password):
    fail(client, SITE_LOGIN, "alice", 5)
    travel(10)
    assert fail(client, SITE_LOGIN, "alice", 3).status_code == 429
    travel(6)
    response = client.post(SITE_LOGIN, {"username": "alice", "password": password})
    assert response.status_code == 302


def test_a_successful_login_resets_the_count(client, alice, password):
    fail(client, SITE_LOGIN, "alice", 4)
    client.post(SITE_LOGIN, {"username": "alice", "password": password})
    client.post(reverse("logout"))
    assert fail(client, SITE_LOGIN, "alice", 4).status_code == 200
    response = client.post(SITE_LOGIN, {"username": "alice", "password": password})
    assert response.status_code == 302


def test_logging_into_your_own_account_does_not_reset_guesses_at_another(
    client, alice, bob, password
):
    fail(client, SITE_LOGIN, "alice", 4)
    client.post(SITE_LOGIN, {"username": "bob", "password": password})
    client.post(reverse("logout"))
    assert fail(client, SITE_LOGIN, "alice", 1).status_code == 429


def test_clearing_the_attempts_in_the_admin_lifts_the_lockout(client, alice, password):
    fail(client, SITE_LOGIN, "alice", 5)
    superuser = User.objects.create_superuser("root", "root@example.com", password)
    admin = Client()
    admin.force_login(superuser)
    ids = list(AccessAttempt.objects.values_list("pk", flat=True))
    response = admin.post(
        reverse("admin:axes_accessattempt_changelist"),
        {"action": "delete_selected", "_selected_action": ids, "post": "yes"},
    )
    assert response.status_code == 302
    assert not AccessAttempt.objects.exists()
    response = client.post(SITE_LOGIN, {"username": "alice", "password": password})
    assert response.status_code == 302


@pytest.mark.django_db(transaction=True)
async def test_the_lockout_works_under_asgi(password):
    from asgiref.sync import sync_to_async

    await sync_to_async(User.objects.create_user)("alice", "alice@example.com", password)
    client = AsyncClient()
    for _ in range(5):
        response = await client.post(SITE_LOGIN, {"username": "alice", "password": "wrong"})
    assert response.status_code == 429
    assert LOCKED in response.content.decode()
    response = await client.post(SITE_LOGIN, {"username": "alice", "password": password})
    assert response.status_code == 429


def test_the_client_address_is_the_peer_unless_proxies_are_configured(settings):
    request = RequestFactory().get(
        "/", REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="6.6.6.6, 203.0.113.9"
    )
    settings.JAM_TRUSTED_PROXY_COUNT = 0
    assert client_ip(request) == "10.0.0.2"
    settings.JAM_TRUSTED_PROXY_COUNT = 1
    assert client_ip(request) == "203.0.113.9"  # what our proxy saw, not what was sent
    settings.JAM_TRUSTED_PROXY_COUNT = 2
    assert client_ip(request) == "6.6.6.6"
    settings.JAM_TRUSTED_PROXY_COUNT = 3
    assert client_ip(request) == "10.0.0.2"  # did not come through all the proxies


def test_behind_a_proxy_a_forged_header_does_not_dodge_the_lockout(settings, client, alice):
    settings.JAM_TRUSTED_PROXY_COUNT = 1
    for number in range(30):
        response = client.post(
            SITE_LOGIN,
            {"username": f"user{number}", "password": "wrong"},
            REMOTE_ADDR="10.0.0.2",
            HTTP_X_FORWARDED_FOR=f"192.0.2.{number}, 203.0.113.9",
        )
    assert response.status_code == 429
