"""Per-user limits on what one user can make the server do and keep: a storage quota and a
cap on songs queued or in separation at once, each refused with a clear message."""

import json

import pytest
from django.urls import reverse

from separation.models import SeparationJob
from separation.services.dispatch import job_retry
from tests import fakes
from tests.factories import make_track
from tests.separation.test_upload import post_file, stored_files
from tracks.models import Track

Status = SeparationJob.Status


@pytest.fixture
def wav(tmp_path):
    return fakes.write_wav(tmp_path / "song.wav", seconds=2.0)


def test_an_upload_over_the_storage_quota_is_refused_and_stores_nothing(
    alice_client, alice, wav, settings, private_media
):
    # 2 s of 44.1 kHz stereo: ~350 KB for the upload, ~700 KB for its two stems.
    settings.JAM_USER_QUOTA_BYTES = 800 * 1024
    response = post_file(alice_client, wav, headers={"Accept": "application/json"})
    assert response.status_code == 400
    [message] = response.json()["errors"]
    assert message.startswith("Your library is full: this song and its jam track need about")
    assert "Delete some tracks to make room." in message
    assert not Track.objects.exists()
    assert stored_files(private_media) == []


def test_an_upload_within_the_quota_is_accepted(alice_client, wav, settings):
    settings.JAM_USER_QUOTA_BYTES = 2 * 1024 * 1024
    response = post_file(alice_client, wav, headers={"Accept": "application/json"})
    assert response.status_code == 201


def test_the_quota_counts_what_the_users_own_tracks_already_store(
    alice_client, alice, bob, tmp_path, wav, settings, fake_engine
):
    # An 8 s song with its stems takes ~4.2 MB; the 2 s upload needs ~1 MB more.
    make_track(owner=bob, tmp_path=tmp_path, seconds=8.0, separated=True)
    settings.JAM_USER_QUOTA_BYTES = 5 * 1024 * 1024
    assert post_file(alice_client, wav, headers={"Accept": "application/json"}).status_code == 201

    make_track(owner=alice, tmp_path=tmp_path, seconds=8.0, separated=True)
    response = post_file(alice_client, wav, headers={"Accept": "application/json"})
    assert response.status_code == 400
    assert "Your library is full" in json.dumps(response.json())


def test_the_library_shows_storage_used_against_the_quota(alice_client, settings):
    settings.JAM_USER_QUOTA_BYTES = 5 * 1024**3
    page = alice_client.get(reverse("tracks:library")).content.decode()
    assert "Storage: 0\xa0bytes of 5.0\xa0GB used" in page


def test_a_user_cannot_queue_more_songs_than_the_limit(alice_client, alice, wav, settings):
    settings.JAM_USER_MAX_ACTIVE_JOBS = 2
    for _ in range(2):
        assert (
            post_file(alice_client, wav, headers={"Accept": "application/json"}).status_code == 201
        )
    response = post_file(alice_client, wav, headers={"Accept": "application/json"})
    assert response.status_code == 400
    assert response.json()["errors"] == [
        "You already have 2 songs waiting for or in separation (the limit is 2). "
        "Add more once one of them is done."
    ]
    assert Track.objects.count() == 2


def test_finished_songs_do_not_count_against_the_queue_limit(alice_client, wav, settings):
    settings.JAM_USER_MAX_ACTIVE_JOBS = 1
    assert post_file(alice_client, wav, headers={"Accept": "application/json"}).status_code == 201
    SeparationJob.objects.update(status=Status.DONE)
    assert post_file(alice_client, wav, headers={"Accept": "application/json"}).status_code == 201


def test_a_retry_respects_the_queue_limit_but_a_moderators_does_not(
    alice_client, alice, tmp_path, settings
):
    settings.JAM_USER_MAX_ACTIVE_JOBS = 1
    failed = make_track(owner=alice, tmp_path=tmp_path, title="Failed")
    SeparationJob.objects.filter(track=failed).update(status=Status.FAILED)
    make_track(owner=alice, tmp_path=tmp_path, title="Waiting")  # queued: the one allowed

    response = alice_client.post(reverse("separation:retry", args=[failed.id]), follow=True)
    assert [str(m) for m in response.context["messages"]] == [
        "You already have 1 song waiting for or in separation (the limit is 1). "
        "Add more once one of them is done."
    ]
    failed.job.refresh_from_db()
    assert failed.job.status == Status.FAILED

    assert job_retry(job=failed.job, owner_limit=False) is True
    failed.job.refresh_from_db()
    assert failed.job.status == Status.QUEUED
