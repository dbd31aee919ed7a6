"""Moderation: users report what they can see, and every report is kept; moderators decide
on the console's review page (hide, unhide, remove, suspend the owner, dismiss), each with a
reason for the audit log and, apart, a message to the owner, who is told by e-mail (never
the reason); reporters are told their report was looked at when the moderator asks."""

from datetime import timedelta

import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.templatetags.static import static
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from audit.models import AuditEntry
from catalog.moderation import get_message_template
from tests.factories import make_band, make_track
from tracks.access import Access, link_access, track_access
from tracks.models import Report, Track
from tracks.moderation import ModerationError, report_create, track_hide
from tracks.sharing import share_link_create, share_link_find, track_share

SECRET_REASON = "Reported by bob, who says it is his cousin's recording"


@pytest.fixture
def band(alice, bob):
    return make_band(owner=alice, name="The Cats", members=[bob])


@pytest.fixture
def track(alice, bob, band, tmp_path, fake_engine):
    track = make_track(owner=alice, tmp_path=tmp_path, title="Blue Bossa", separated=True)
    track_share(track=track, by=alice, band_ids=[band.id], scope="jam")
    return track


@pytest.fixture
def carol(band, password):
    from bands.models import Membership

    carol = User.objects.create_user("carol", "carol@example.com", password)
    Membership.objects.create(band=band, user=carol)
    return carol


@pytest.fixture
def moderator_client(moderator):
    client = Client()
    client.force_login(moderator)
    return client


def decide(client, track, action, **fields):
    """Post a decision from the track's review page (and, with confirmed=yes, its
    confirmation)."""
    url = reverse("admin:tracks_report_act", args=[track.id, action])
    return client.post(url, fields)


def review_page(client, track) -> str:
    response = client.get(reverse("admin:tracks_report_review", args=[track.id]))
    assert response.status_code == 200
    return response.content.decode()


# --- Reports, kept as a history ------------------------------------------------------------
def test_a_bandmate_reports_a_track_and_it_waits_in_the_queue(bob_client, bob, track):
    response = bob_client.post(
        reverse("tracks:report", args=[track.id]), {"reason": "copyright", "details": "Not hers"}
    )
    assert response.status_code == 302
    report = Report.objects.get()
    assert (report.reporter, report.reason, report.is_open) == (bob, "copyright", True)
    assert (report.track_title, report.track_owner, report.track_ref) == (
        "Blue Bossa",
        track.owner,
        track.id,
    )


def test_a_second_report_is_kept_beside_the_first_with_its_details(bob, track):
    report_create(track=track, reporter=bob, reason="copyright", details="It is the album cut")
    report_create(track=track, reporter=bob, reason="spam")
    kept = list(Report.objects.order_by("id").values_list("reason", "details"))
    assert kept == [("copyright", "It is the album cut"), ("spam", "")]


def test_an_owner_cannot_report_their_own_track_and_outsiders_get_404(
    alice_client, alice, track, password
):
    with pytest.raises(ModerationError):
        report_create(track=track, reporter=alice, reason="spam")
    dave = User.objects.create_user("dave", "d@example.com", password)
    outsider = Client()
    outsider.force_login(dave)
    response = outsider.post(reverse("tracks:report", args=[track.id]), {"reason": "spam"})
    assert response.status_code == 404
    assert not Report.objects.exists()


# --- The queue ------------------------------------------------------------------------------
def test_the_queue_is_the_front_page_for_moderators_oldest_open_first_with_counts(
    moderator_client, staff, alice, bob, carol, track, tmp_path
):
    newer = make_track(owner=alice, tmp_path=tmp_path, title="Newer trouble", separated=True)
    track_share(track=newer, by=alice, band_ids=[track.shares.get().band_id], scope="jam")
    decided = make_track(owner=alice, tmp_path=tmp_path, title="Settled", separated=True)
    track_share(track=decided, by=alice, band_ids=[track.shares.get().band_id], scope="jam")
    report_create(track=newer, reporter=bob, reason="spam")
    report_create(track=track, reporter=bob, reason="copyright", details="Album cut")
    report_create(track=track, reporter=carol, reason="copyright")
    report_create(track=track, reporter=carol, reason="offensive")
    report_create(track=decided, reporter=bob, reason="spam")
    Report.objects.filter(track=track).update(created_at=timezone.now() - timedelta(days=2))
    Report.objects.filter(track=decided).update(resolved_at=timezone.now(), resolution="dismissed")

    page = moderator_client.get(reverse("admin:index")).content.decode()
    assert "Reports to review: 4 open reports on 2 tracks" in page
    waiting = page[: page.index("Recently decided")]
    assert waiting.index("Blue Bossa") < waiting.index("Newer trouble")  # oldest open first
    assert "It infringes someone&#x27;s copyright (2); It is offensive or abusive (1)" in page
    assert "Settled" in page[page.index("Recently decided") :]
    queue = moderator_client.get(reverse("admin:tracks_report_queue")).content.decode()
    assert "Reports to review: 4 open reports on 2 tracks" in queue

    other_staff = Client()
    other_staff.force_login(staff)
    assert "Reports to review" not in other_staff.get(reverse("admin:index")).content.decode()
    assert other_staff.get(reverse("admin:tracks_report_queue")).status_code == 403


# --- The review page ------------------------------------------------------------------------
def test_the_review_page_has_the_player_the_owner_their_history_shares_links_and_reports(
    moderator_client, moderator, alice, bob, track, tmp_path
):
    earlier = make_track(owner=alice, tmp_path=tmp_path, title="Old offence", separated=True)
    track_share(track=earlier, by=alice, band_ids=[track.shares.get().band_id], scope="jam")
    report_create(track=earlier, reporter=bob, reason="spam", details="Ad for a shop")
    track_hide(track=earlier, by=moderator, reason="An advert, not a song")
    share_link_create(track=track, by=alice, expires_in_days=7)
    report_create(track=track, reporter=bob, reason="copyright", details="The album cut")

    page = review_page(moderator_client, track)
    assert 'data-player data-duration="1.000"' in page
    for part in ("instrumental", "vocals"):  # every part, the vocals too
        assert reverse("tracks:audio", args=[track.id, part]) in page
    assert "alice@example.com" in page
    assert "Old offence" in page and "Ad for a shop" in page and "An advert, not a song" in page
    assert "the band The Cats" in page and "a share link made" in page
    assert "The album cut" in page and "Reports: 1 open, 1 in all" in page
    assert 'name="reason"' in page and 'name="message"' in page
    for template in ("Copyright claim", "Not music"):
        assert template in page
    # The destructive ones stand apart, after the others.
    assert (
        page.index('data-action="hide"')
        < page.index("Destructive")
        < page.index('data-action="remove"')
    )


def test_a_moderator_opening_a_track_in_the_admin_lands_on_its_review_page(moderator_client, track):
    response = moderator_client.get(reverse("admin:tracks_track_change", args=[track.id]))
    assert response.status_code == 302
    assert response["Location"] == reverse("admin:tracks_report_review", args=[track.id])


# --- Decisions ------------------------------------------------------------------------------
def test_hiding_keeps_the_reason_in_the_log_and_sends_the_owner_only_the_message(
    moderator_client,
    moderator,
    alice,
    bob,
    carol,
    track,
    mailoutbox,
    django_capture_on_commit_callbacks,
):
    report_create(track=track, reporter=bob, reason="copyright")
    report_create(track=track, reporter=carol, reason="spam")
    _, token = share_link_create(track=track, by=alice, expires_in_days=None)

    assert decide(moderator_client, track, "hide", reason="").status_code == 302
    track.refresh_from_db()
    assert not track.is_hidden  # no reason, nothing done

    with django_capture_on_commit_callbacks(execute=True):
        decide(
            moderator_client,
            track,
            "hide",
            reason=SECRET_REASON,
            message="A rights holder claimed this recording.",
            tell_reporters="1",
        )
    track.refresh_from_db()
    assert track.is_hidden and track.hidden_reason == SECRET_REASON
    assert track.hidden_message == "A rights holder claimed this recording."
    assert track_access(bob, track) == Access.NONE
    assert track_access(alice, track) == Access.MANAGE
    assert link_access(share_link_find(token)) == Access.NONE
    entry = AuditEntry.objects.get()
    assert (entry.actor, entry.action, entry.reason, entry.subject) == (
        moderator,
        "track.hide",
        SECRET_REASON,
        alice,
    )
    # Both open reports closed by the one decision, with it.
    assert set(Report.objects.values_list("resolution", "decision")) == {("hidden", entry.pk)}

    to_owner = [m for m in mailoutbox if m.to == ["alice@example.com"]]
    assert len(to_owner) == 1
    assert "A rights holder claimed this recording." in to_owner[0].body
    assert "hid “Blue Bossa”" in to_owner[0].subject
    assert SECRET_REASON not in to_owner[0].body and "bob" not in to_owner[0].body
    # Its link is the address the moderator used (the test client's), not a default.
    assert f"http://testserver/tracks/{track.id}/" in to_owner[0].body
    page = Client()
    page.force_login(alice)
    detail = page.get(reverse("tracks:detail", args=[track.id])).content.decode()
    assert "A rights holder claimed this recording." in detail
    assert SECRET_REASON not in detail

    told = sorted(m.to[0] for m in mailoutbox if m.to != ["alice@example.com"])
    assert told == ["bob@example.com", "carol@example.com"]
    assert all(SECRET_REASON not in m.body for m in mailoutbox)
    assert Report.objects.filter(reporter_told_at=None).count() == 0


def test_a_message_template_is_sent_when_no_message_is_written(
    moderator_client, alice, track, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        decide(moderator_client, track, "hide", reason="Field recording", template="not-music")
    track.refresh_from_db()
    assert track.hidden_message == get_message_template("not-music").text
    assert get_message_template("not-music").text in mailoutbox[0].body


def test_reporters_are_not_told_unless_the_moderator_asks(
    moderator_client, bob, track, mailoutbox, django_capture_on_commit_callbacks
):
    report_create(track=track, reporter=bob, reason="spam")
    with django_capture_on_commit_callbacks(execute=True):
        decide(moderator_client, track, "dismiss", reason="It is a real song")
    assert [m.to for m in mailoutbox] == []
    report = Report.objects.get()
    assert (report.resolution, report.reporter_told_at) == ("dismissed", None)


def test_dismissing_closes_every_open_report_together_and_leaves_the_track(
    moderator_client, bob, carol, track, mailoutbox, django_capture_on_commit_callbacks
):
    report_create(track=track, reporter=bob, reason="spam")
    report_create(track=track, reporter=carol, reason="spam")
    with django_capture_on_commit_callbacks(execute=True):
        decide(moderator_client, track, "dismiss", reason="Not spam", tell_reporters="1")
    track.refresh_from_db()
    assert not track.is_hidden
    assert set(Report.objects.values_list("resolution", flat=True)) == {"dismissed"}
    assert AuditEntry.objects.get().action == "reports.dismiss"
    assert "left the track as it is" in mailoutbox[0].body
    page = review_page(moderator_client, track)
    assert "Reports: 0 open, 2 in all" in page and 'data-action="dismiss"' not in page


def test_removing_is_confirmed_first_and_keeps_the_reports_in_the_owners_history(
    moderator_client,
    alice,
    bob,
    track,
    private_media,
    mailoutbox,
    django_capture_on_commit_callbacks,
):
    report_create(track=track, reporter=bob, reason="copyright", details="Album cut")
    asked = decide(moderator_client, track, "remove", reason=SECRET_REASON, message="Taken down.")
    assert asked.status_code == 200
    assert "are you sure?" in asked.content.decode()
    assert Track.objects.filter(id=track.id).exists()

    with django_capture_on_commit_callbacks(execute=True):
        response = decide(
            moderator_client,
            track,
            "remove",
            reason=SECRET_REASON,
            message="Taken down.",
            confirmed="yes",
        )
    assert response.status_code == 302
    assert not Track.objects.filter(id=track.id).exists()
    report = Report.objects.get()
    assert (report.track, report.track_title, report.track_owner, report.resolution) == (
        None,
        "Blue Bossa",
        alice,
        "removed",
    )
    assert [m.to for m in mailoutbox] == [["alice@example.com"]]
    assert "Taken down." in mailoutbox[0].body and SECRET_REASON not in mailoutbox[0].body


def test_unhiding_and_removing_are_recorded_with_their_reasons(
    moderator_client, moderator, track, private_media
):
    track_hide(track=track, by=moderator, reason="Checking")
    decide(moderator_client, track, "unhide", reason="Cleared")
    track.refresh_from_db()
    assert not track.is_hidden and track.hidden_message == ""
    decide(moderator_client, track, "remove", reason="Spam upload", confirmed="yes")
    assert not Track.objects.filter(id=track.id).exists()
    assert list(AuditEntry.objects.order_by("id").values_list("action", "reason")) == [
        ("track.hide", "Checking"),
        ("track.unhide", "Cleared"),
        ("track.remove", "Spam upload"),
    ]


def test_suspending_the_owner_is_confirmed_and_closes_the_reports(
    moderator_client, alice, bob, track
):
    report_create(track=track, reporter=bob, reason="spam")
    asked = decide(moderator_client, track, "suspend", reason="Spam account")
    assert "are you sure?" in asked.content.decode()
    alice.refresh_from_db()
    assert alice.is_active
    decide(moderator_client, track, "suspend", reason="Spam account", confirmed="yes")
    alice.refresh_from_db()
    assert not alice.is_active and alice.suspension.reason == "Spam account"
    assert Report.objects.get().resolution == "suspended"


def test_the_owner_deleting_a_reported_track_keeps_its_reports_closed(alice_client, bob, track):
    report_create(track=track, reporter=bob, reason="spam")
    alice_client.post(reverse("tracks:delete", args=[track.id]))
    report = Report.objects.get()
    assert (report.track, report.resolution, report.track_title) == (None, "deleted", "Blue Bossa")


def test_staff_without_the_permission_cannot_decide(client, staff, track):
    client.force_login(staff)
    assert decide(client, track, "hide", reason="I want to").status_code == 403
    track.refresh_from_db()
    assert not track.is_hidden
    assert not AuditEntry.objects.exists()


def test_the_admin_lists_no_bulk_hide_and_no_delete_beside_suspend(moderator_client, track):
    tracks = moderator_client.get(reverse("admin:tracks_track_changelist")).content.decode()
    assert 'value="hide"' not in tracks and 'value="remove"' not in tracks
    users = moderator_client.get(reverse("admin:auth_user_changelist")).content.decode()
    assert 'value="suspend"' in users and 'value="delete_selected"' not in users


# --- The audit log --------------------------------------------------------------------------
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


def test_the_audit_log_filters_by_moderator_action_and_user_and_wraps_reasons(
    moderator_client, moderator, alice, bob, track, tmp_path, password
):
    from accounts.services import user_suspend

    other_mod = User.objects.create_user("otto", "o@example.com", password, is_staff=True)
    bobs = make_track(owner=bob, tmp_path=tmp_path, title="Bob's tune")
    track_hide(track=track, by=moderator, reason="A long reason " * 10)
    track_hide(track=bobs, by=other_mod, reason="Other")
    user_suspend(user=bob, by=moderator, reason="Spam account")
    url = reverse("admin:audit_auditentry_changelist")

    def listed(query):
        page = moderator_client.get(url + query).content.decode()
        return sorted(AuditEntry.objects.filter(pk__in=_ids(page)).values_list("action", flat=True))

    assert listed("?moderator=otto") == ["track.hide"]
    assert listed("?action=user.suspend") == ["user.suspend"]
    assert listed(f"?user={bob.pk}") == ["track.hide", "user.suspend"]
    assert listed(f"?user={alice.pk}") == ["track.hide"]
    page = moderator_client.get(url).content.decode()
    # The rule lives in the console's stylesheet (no inline <style> under the CSP).
    assert f'href="{static("css/console.css")}"' in page
    stylesheet = (settings.BASE_DIR / "static" / "css" / "console.css").read_text()
    assert "#result_list td.field-reason { white-space: pre-wrap" in stylesheet


def _ids(page: str) -> list[int]:
    import re

    return [int(pk) for pk in re.findall(r"/admin/audit/auditentry/(\d+)/change/", page)]
