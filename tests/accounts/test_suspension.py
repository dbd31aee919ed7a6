"""Suspending an account: it cannot log in and is told why (only after the right password),
its sessions end, its shares stop working, and every step is in the audit log."""

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

from accounts.services import SuspensionError, user_reinstate, user_suspend
from audit.models import AuditEntry
from tests.factories import make_band, make_track
from tracks.access import Access, track_access
from tracks.sharing import track_share


@pytest.fixture
def moderator_client(moderator):
    client = Client()
    client.force_login(moderator)
    return client


def login(client, username, password):
    return client.post(reverse("login"), {"username": username, "password": password})


def test_a_moderator_suspends_a_user_with_a_reason_in_the_admin(moderator_client, moderator, alice):
    response = moderator_client.post(
        reverse("admin:auth_user_changelist"),
        {
            "action": "suspend",
            "_selected_action": [alice.pk],
            "apply": "1",
            "reason": "Repeated copyright uploads.",
        },
        follow=True,
    )
    assert response.status_code == 200
    alice.refresh_from_db()
    assert not alice.is_active and alice.suspension.reason == "Repeated copyright uploads."
    entry = AuditEntry.objects.get()
    assert (entry.action, entry.actor, entry.target_label) == ("user.suspend", moderator, "alice")


def test_a_suspended_user_is_told_so_plainly_but_only_with_the_right_password(
    client, alice, moderator, password
):
    user_suspend(user=alice, by=moderator, reason="Spam.")
    right = login(client, "alice", password).content.decode()
    assert "Your account is suspended: Spam." in right
    wrong = login(Client(), "alice", "not-the-password").content.decode()
    assert "suspended" not in wrong
    assert "_auth_user_id" not in client.session


def test_the_admin_login_tells_a_suspended_user_too(client, password, staff):
    root = User.objects.create_superuser("root", "root@example.com", "x-long-pass-123")
    user_suspend(user=staff, by=root, reason="Abuse.")  # only a superuser suspends staff
    page = client.post(
        reverse("admin:login"), {"username": "stan", "password": password}
    ).content.decode()
    assert "Your account is suspended: Abuse." in page


def test_suspension_ends_open_sessions_and_the_users_shares(
    alice_client, alice, bob, moderator, tmp_path, fake_engine
):
    track = make_track(owner=alice, tmp_path=tmp_path, separated=True)
    band = make_band(owner=alice, members=[bob])
    track_share(track=track, by=alice, band_ids=[band.id], scope="jam")
    assert track_access(bob, track) == Access.JAM

    user_suspend(user=alice, by=moderator, reason="Spam.")
    track.refresh_from_db()
    assert track_access(bob, track) == Access.NONE
    signed_out = alice_client.get(reverse("tracks:library")).content.decode()
    assert "Take the vocals out of any song" in signed_out  # the visitors' front page
    assert reverse("tracks:detail", args=[track.id]) not in signed_out

    user_reinstate(user=alice, by=moderator, reason="Appeal accepted.")
    track.refresh_from_db()
    assert track_access(bob, track) == Access.JAM
    assert [e.action for e in AuditEntry.objects.order_by("id")] == [
        "user.suspend",
        "user.reinstate",
    ]


def test_a_suspension_needs_a_reason_and_nobody_suspends_themselves(moderator, alice):
    with pytest.raises(SuspensionError):
        user_suspend(user=alice, by=moderator, reason="  ")
    with pytest.raises(SuspensionError):
        user_suspend(user=moderator, by=moderator, reason="oops")
    assert User.objects.get(pk=alice.pk).is_active


def test_moderators_see_tracks_and_storage_per_user(moderator_client, alice, tmp_path):
    make_track(owner=alice, tmp_path=tmp_path)
    page = moderator_client.get(reverse("admin:auth_user_changelist")).content.decode()
    assert "Storage used" in page and "Quota" in page


def test_a_moderator_cannot_suspend_a_superuser_or_other_staff(moderator_client, staff, db):
    root = User.objects.create_superuser("root", "root@example.com", "x-long-pass-123")
    moderator_client.post(
        reverse("admin:auth_user_changelist"),
        {"action": "suspend", "_selected_action": [root.pk, staff.pk], "apply": "1", "reason": "x"},
    )
    assert User.objects.get(pk=root.pk).is_active and User.objects.get(pk=staff.pk).is_active
    assert not AuditEntry.objects.exists()


def test_reinstating_needs_a_suspension_not_just_an_inactive_account(moderator_client, db):
    former = User.objects.create_user("former", "f@example.com", "x-long-pass-123")
    User.objects.filter(pk=former.pk).update(is_active=False)  # closed by a superuser
    moderator_client.post(
        reverse("admin:auth_user_changelist"),
        {"action": "reinstate", "_selected_action": [former.pk], "apply": "1", "reason": "hi"},
    )
    assert not User.objects.get(pk=former.pk).is_active


def test_a_browser_signed_in_when_its_account_was_suspended_is_told_why_on_the_log_in_page(
    moderator, alice, password
):
    from django.test import Client

    from accounts.services import user_suspend

    browser, stranger = Client(), Client()
    browser.force_login(alice)
    user_suspend(user=alice, by=moderator, reason="Uploads of other people's records.")

    page = browser.get(reverse("bands:list"), follow=True)
    assert page.request["PATH_INFO"] == reverse("login")
    assert "A moderator suspended your account" in page.text
    assert "Uploads of other people&#x27;s records." in page.text
    # Another browser, never signed in to it, learns nothing of the suspension.
    assert "suspended" not in stranger.get(reverse("login")).text
