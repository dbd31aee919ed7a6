import re

import pytest
from django.contrib.auth.models import User
from django.urls import reverse

from audit.models import AuditEntry
from separation.models import SeparationJob
from separation.services.dispatch import job_cancel
from tests.factories import make_track
from tracks.models import Track


@pytest.fixture
def admin_client(client, db):
    client.force_login(User.objects.create_superuser("root", "root@example.com", "x"))
    return client


def test_administrators_see_every_users_tracks_and_jobs(admin_client, alice, bob, tmp_path):
    make_track(owner=alice, tmp_path=tmp_path, title="Alice tune")
    make_track(owner=bob, tmp_path=tmp_path, title="Bob tune")
    tracks_page = admin_client.get(reverse("admin:tracks_track_changelist")).content.decode()
    assert "Alice tune" in tracks_page and "Bob tune" in tracks_page
    jobs = admin_client.get(reverse("admin:separation_separationjob_changelist"))
    assert jobs.status_code == 200


def test_removing_in_the_admin_asks_why_then_removes_the_track_its_job_and_files(
    admin_client, alice, tmp_path, private_media, django_capture_on_commit_callbacks
):
    track = make_track(owner=alice, tmp_path=tmp_path)
    stored = private_media / track.original.name
    url = reverse("admin:tracks_report_act", args=[track.id, "remove"])
    asked = admin_client.post(url, {"reason": ""})
    assert asked.status_code == 302  # back to the review page: a reason is needed
    assert Track.objects.exists()
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(url, {"reason": "Uploaded twice", "confirmed": "yes"})
    assert response.status_code == 302
    assert not Track.objects.exists() and not SeparationJob.objects.exists()
    assert not stored.exists()


def test_the_stock_delete_without_a_reason_is_not_offered(admin_client, alice, tmp_path):
    track = make_track(owner=alice, tmp_path=tmp_path)
    url = reverse("admin:tracks_track_delete", args=[track.id])
    assert admin_client.post(url, {"post": "yes"}).status_code == 403
    assert Track.objects.exists()


def test_administrators_can_retry_jobs(admin_client, alice, tmp_path):
    job = make_track(owner=alice, tmp_path=tmp_path).job
    job_cancel(job=job)
    admin_client.post(
        reverse("admin:separation_separationjob_changelist"),
        {"action": "retry", "_selected_action": [str(job.id)], "apply": "1", "reason": "Fixed"},
    )
    job.refresh_from_db()
    assert job.status == SeparationJob.Status.QUEUED
    entry = AuditEntry.objects.get()
    assert (entry.action, entry.target_id, entry.reason) == ("job.retry", str(job.id), "Fixed")


def test_regular_users_cannot_open_the_admin(alice_client):
    response = alice_client.get(reverse("admin:tracks_track_changelist"))
    assert response.status_code == 302


@pytest.fixture
def moderator_client(moderator):
    from django.contrib.auth.models import Permission
    from django.test import Client

    moderator.user_permissions.add(Permission.objects.get(codename="view_track"))
    client = Client()
    client.force_login(moderator)
    return client


def test_a_moderator_can_play_and_download_every_file_linked_from_the_admin(
    moderator_client, alice, tmp_path, fake_engine
):
    track = make_track(owner=alice, tmp_path=tmp_path, title="Reported", separated=True)
    page = moderator_client.get(reverse("admin:tracks_track_change", args=[track.id]), follow=True)
    assert page.status_code == 200  # the review page
    links = re.findall(r'<a href="([^"]+)" data-role="file-link">', page.content.decode())
    assert len(links) == 3  # the original as uploaded, download both stems
    played = re.findall(r'data-audio="([^"]+)"', page.content.decode())
    assert len(played) == 2  # the player: both stems, together
    for url in links + played:
        response = moderator_client.get(url)
        assert response.status_code == 200, url
        assert b"".join(response.streaming_content)


def test_staff_without_the_moderator_permission_get_no_file_links(client, staff, alice, tmp_path):
    from django.contrib.auth.models import Permission

    staff.user_permissions.add(Permission.objects.get(codename="view_track"))
    client.force_login(staff)
    track = make_track(owner=alice, tmp_path=tmp_path, title="Reported")
    page = client.get(reverse("admin:tracks_track_change", args=[track.id])).content.decode()
    assert 'data-role="file-link"' not in page
    assert "Only moderators" in page
    assert client.get(reverse("tracks:audio", args=[track.id, "original"])).status_code == 404


def staff_with(staff, *codenames):
    from django.contrib.auth.models import Permission
    from django.test import Client

    staff.user_permissions.add(*Permission.objects.filter(codename__in=codenames))
    client = Client()
    client.force_login(staff)
    return client


def test_staff_who_only_view_jobs_cannot_cancel_or_retry_them(staff, alice, tmp_path):
    client = staff_with(staff, "view_separationjob", "change_separationjob")
    job = make_track(owner=alice, tmp_path=tmp_path).job
    for action in ("cancel", "retry"):
        client.post(
            reverse("admin:separation_separationjob_changelist"),
            {"action": action, "_selected_action": [str(job.id)], "apply": "1", "reason": "x"},
        )
        job.refresh_from_db()
        assert job.status == SeparationJob.Status.QUEUED


def test_a_moderator_cancels_a_job_with_a_reason_and_needs_no_other_permission(
    moderator, alice, tmp_path
):
    client = staff_with(moderator)  # only the moderator permission
    job = make_track(owner=alice, tmp_path=tmp_path).job
    changelist = reverse("admin:separation_separationjob_changelist")
    selected = {"action": "cancel", "_selected_action": [str(job.id)]}
    assert "Reason (shown in the audit log" in client.post(changelist, selected).content.decode()
    job.refresh_from_db()
    assert job.status == SeparationJob.Status.QUEUED  # nothing yet: the reason page
    client.post(changelist, {**selected, "apply": "1", "reason": "Duplicate upload"})
    job.refresh_from_db()
    assert job.status == SeparationJob.Status.CANCELLED
    assert AuditEntry.objects.get().reason == "Duplicate upload"


def test_staff_cannot_rename_or_delete_someones_track_in_the_admin(staff, alice, tmp_path):
    client = staff_with(staff, "view_track", "change_track", "delete_track")
    track = make_track(owner=alice, tmp_path=tmp_path, title="Secret")
    url = reverse("admin:tracks_track_change", args=[track.id])
    client.post(url, {"title": "Pwned"})
    client.post(reverse("admin:tracks_track_delete", args=[track.id]), {"post": "yes"})
    client.post(
        reverse("admin:tracks_track_changelist"),
        {"action": "delete_selected", "_selected_action": [str(track.id)], "post": "yes"},
    )
    track.refresh_from_db()
    assert track.title == "Secret"


def test_jobs_cannot_be_deleted_apart_from_their_track(admin_client, alice, tmp_path):
    job = make_track(owner=alice, tmp_path=tmp_path).job
    admin_client.post(
        reverse("admin:separation_separationjob_delete", args=[job.id]), {"post": "yes"}
    )
    assert SeparationJob.objects.filter(id=job.id).exists()
