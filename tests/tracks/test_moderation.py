"""Moderation: users report what they can see; moderators hide, unhide and remove tracks,
dismiss reports and suspend accounts in the admin, each action in the audit log."""

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

from audit.models import AuditEntry
from tests.factories import make_band, make_track
from tracks.access import Access, link_access, track_access
from tracks.models import Report, Track
from tracks.moderation import ModerationError, report_create, track_hide
from tracks.sharing import share_link_create, share_link_find, track_share


@pytest.fixture
def band(alice, bob):
    return make_band(owner=alice, name="The Cats", members=[bob])


@pytest.fixture
def track(alice, bob, band, tmp_path, fake_engine):
    track = make_track(owner=alice, tmp_path=tmp_path, title="Blue Bossa", separated=True)
    track_share(track=track, by=alice, band_ids=[band.id], scope="jam")
    return track


@pytest.fixture
def moderator_client(moderator):
    client = Client()
    client.force_login(moderator)
    return client


def act(client, model: str, action: str, ids, reason: str = ""):
    """Run an admin action on the change list; with a reason, through its reason page."""
    url = reverse(f"admin:{model}_changelist")
    data = {"action": action, "_selected_action": [str(i) for i in ids]}
    if reason:
        data.update(apply="1", reason=reason)
    return client.post(url, data, follow=True)


def test_a_bandmate_reports_a_track_and_it_waits_in_the_queue(bob_client, bob, track):
    response = bob_client.post(
        reverse("tracks:report", args=[track.id]), {"reason": "copyright", "details": "Not hers"}
    )
    assert response.status_code == 302
    report = Report.objects.get()
    assert (report.reporter, report.reason, report.is_open) == (bob, "copyright", True)


def test_an_owner_cannot_report_their_own_track_and_outsiders_get_404(
    alice_client, alice, track, password
):
    with pytest.raises(ModerationError):
        report_create(track=track, reporter=alice, reason="spam")
    carol = User.objects.create_user("carol", "c@example.com", password)
    outsider = Client()
    outsider.force_login(carol)
    response = outsider.post(reverse("tracks:report", args=[track.id]), {"reason": "spam"})
    assert response.status_code == 404
    assert not Report.objects.exists()


def test_the_report_queue_shows_open_reports_to_moderators_only(
    moderator_client, staff, bob, track
):
    report_create(track=track, reporter=bob, reason="offensive", details="Nasty lyrics")
    page = moderator_client.get(reverse("admin:tracks_report_changelist")).content.decode()
    assert "Blue Bossa" in page and "Nasty lyrics" in page
    other_staff = Client()
    other_staff.force_login(staff)
    assert other_staff.get(reverse("admin:tracks_report_changelist")).status_code == 403


def test_hiding_asks_for_a_reason_then_hides_for_everyone_but_owner_and_moderators(
    moderator_client, moderator, alice, bob, track
):
    report_create(track=track, reporter=bob, reason="copyright")
    _, token = share_link_create(track=track, by=alice, expires_in_days=None)

    asked = act(moderator_client, "tracks_track", "hide", [track.id])
    assert "Reason (shown in the audit log" in asked.content.decode()
    track.refresh_from_db()
    assert not track.is_hidden

    act(moderator_client, "tracks_track", "hide", [track.id], reason="Copyright claim")
    track.refresh_from_db()
    assert track.is_hidden and track.hidden_reason == "Copyright claim"
    assert track_access(bob, track) == Access.NONE
    assert track_access(alice, track) == Access.MANAGE
    assert track_access(moderator, track) == Access.MODERATE
    assert link_access(share_link_find(token)) == Access.NONE
    assert Report.objects.get().resolution == Report.Resolution.HIDDEN
    entry = AuditEntry.objects.get()
    assert (entry.actor, entry.action, entry.target_id, entry.reason) == (
        moderator,
        "track.hide",
        str(track.id),
        "Copyright claim",
    )


def test_unhiding_and_removing_are_recorded_with_their_reasons(
    moderator_client, moderator, track, private_media
):
    track_hide(track=track, by=moderator, reason="Checking")
    act(moderator_client, "tracks_track", "unhide", [track.id], reason="Cleared")
    track.refresh_from_db()
    assert not track.is_hidden
    act(moderator_client, "tracks_track", "remove", [track.id], reason="Spam upload")
    assert not Track.objects.filter(id=track.id).exists()
    assert list(AuditEntry.objects.order_by("id").values_list("action", "reason")) == [
        ("track.hide", "Checking"),
        ("track.unhide", "Cleared"),
        ("track.remove", "Spam upload"),
    ]


def test_a_dismissed_report_leaves_the_track_alone(moderator_client, bob, track):
    report = report_create(track=track, reporter=bob, reason="spam")
    act(moderator_client, "tracks_report", "dismiss", [report.id], reason="Not spam")
    report.refresh_from_db()
    track.refresh_from_db()
    assert report.resolution == Report.Resolution.DISMISSED and not track.is_hidden
    assert AuditEntry.objects.get().action == "report.dismiss"


def test_staff_without_the_permission_cannot_hide(client, staff, track):
    client.force_login(staff)
    act(client, "tracks_track", "hide", [track.id], reason="I want to")
    track.refresh_from_db()
    assert not track.is_hidden
    assert not AuditEntry.objects.exists()


def test_the_audit_log_can_be_read_but_never_edited_or_deleted(
    admin_client, moderator_client, moderator, track
):
    track_hide(track=track, by=moderator, reason="Checking")
    entry = AuditEntry.objects.get()
    assert moderator_client.get(reverse("admin:audit_auditentry_changelist")).status_code == 200
    for client in (admin_client, moderator_client):
        change = reverse("admin:audit_auditentry_change", args=[entry.id])
        assert client.post(change, {"reason": "rewritten"}).status_code == 403
        delete = reverse("admin:audit_auditentry_delete", args=[entry.id])
        assert client.post(delete, {"post": "yes"}).status_code == 403
    entry.refresh_from_db()
    assert entry.reason == "Checking"


def test_hiding_two_reports_of_one_track_hides_it_once(
    moderator_client, band, bob, password, track
):
    from bands.models import Membership

    carol = User.objects.create_user("carol", "c@example.com", password)
    Membership.objects.create(band=band, user=carol)
    report_create(track=track, reporter=bob, reason="spam")
    report_create(track=track, reporter=carol, reason="copyright")
    act(
        moderator_client,
        "tracks_report",
        "hide",
        Report.objects.values_list("pk", flat=True),
        reason="Copyright claim",
    )
    assert list(AuditEntry.objects.values_list("action", flat=True)) == ["track.hide"]
    assert set(Report.objects.values_list("resolution", flat=True)) == {"hidden"}
