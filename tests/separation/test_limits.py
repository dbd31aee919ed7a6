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
    assert message == (
        "That song is too big for your storage: with its jam track it needs about 1.0\xa0MB, "
        "and your whole library may hold 800.0\xa0KB."
    )
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
    settings.JAM_USER_QUOTA_BYTES = 6 * 1024 * 1024
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


def test_room_for_the_stems_of_songs_still_separating_is_held(alice_client, alice, wav, settings):
    """Two uploads in a row: the first one's stems are not stored yet, but their room is
    held, so the second cannot squeeze in and the quota is never overshot."""
    settings.JAM_USER_QUOTA_BYTES = 2 * 1024 * 1024  # one 2 s song and its stems: ~1.05 MB
    assert post_file(alice_client, wav, headers={"Accept": "application/json"}).status_code == 201
    response = post_file(alice_client, wav, headers={"Accept": "application/json"})
    assert response.status_code == 400
    assert "Your library is full" in json.dumps(response.json())


def test_recording_the_stems_releases_the_room_held_for_them(alice, tmp_path, fake_engine):
    from tracks.selectors import storage_use_for_user

    track = make_track(owner=alice, tmp_path=tmp_path, seconds=2.0)
    assert track.reserved_bytes == 2 * 88200 * 2 * 2  # two 16-bit stereo stems of 2 s
    held = storage_use_for_user(user_id=alice.pk).used_bytes
    make_track(owner=alice, tmp_path=tmp_path, seconds=2.0, separated=True)
    track.refresh_from_db()
    separated = Track.objects.exclude(pk=track.pk).get()
    assert separated.reserved_bytes == 0
    stored = sum(asset.size_bytes for asset in separated.assets.all())
    assert storage_use_for_user(user_id=alice.pk).used_bytes == held + stored


def test_the_storage_meter_counts_each_file_once_and_each_tracks_held_room_once(
    alice, bob, tmp_path, fake_engine
):
    from tracks.models import Asset
    from tracks.selectors import storage_use_for_user

    assert storage_use_for_user(user_id=alice.pk).used_bytes == 0
    separated = make_track(owner=alice, tmp_path=tmp_path, seconds=2.0, separated=True)
    make_track(owner=alice, tmp_path=tmp_path, seconds=1.0)
    make_track(owner=bob, tmp_path=tmp_path, seconds=3.0, separated=True)
    # Room held on a track with several files: one query joins tracks and files, and must
    # not count it once per file.
    Track.objects.filter(pk=separated.pk).update(reserved_bytes=1000)
    assert separated.assets.count() > 2

    stored = sum(Asset.objects.filter(track__owner=alice).values_list("size_bytes", flat=True))
    held = sum(Track.objects.filter(owner=alice).values_list("reserved_bytes", flat=True))
    used = storage_use_for_user(user_id=alice.pk).used_bytes
    assert used == stored + held
    assert type(used) is int  # not PostgreSQL's numeric sum, a Decimal


def test_the_room_held_for_a_24_bit_song_counts_24_bit_stems(alice_client, tmp_path):
    import numpy as np
    import soundfile as sf

    path = tmp_path / "hi-res.wav"
    sf.write(path, np.full((48000, 2), 0.1, dtype=np.float32), 48000, subtype="PCM_24")
    assert post_file(alice_client, path, headers={"Accept": "application/json"}).status_code == 201
    assert Track.objects.get().reserved_bytes == 2 * 48000 * 2 * 3


def test_a_song_bigger_than_the_whole_quota_says_so(alice_client, wav, settings):
    settings.JAM_USER_QUOTA_BYTES = 500 * 1024
    response = post_file(alice_client, wav, headers={"Accept": "application/json"})
    assert response.json()["errors"][0].startswith("That song is too big for your storage")
