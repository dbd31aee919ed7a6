"""Storage that refuses to write or delete (a full or read-only disk, an unreachable object
store): the user is told plainly, nothing is reported done that is not, and nothing is lost
for good — refused deletions are retried by the worker."""

import json

import pytest
from django.urls import reverse

from separation.models import SeparationJob
from tests import fakes
from tests.factories import make_track
from tests.separation.test_upload import post_file, stored_files
from tracks.models import FileDeletion, Track
from tracks.services import track_retry_file_deletions


@pytest.fixture
def refusing_storage(settings, monkeypatch):
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {**settings.STORAGES["default"], "BACKEND": "tests.fakes.RefusingStorage"},
    }
    monkeypatch.setattr(fakes.RefusingStorage, "refuse_save", False)
    monkeypatch.setattr(fakes.RefusingStorage, "refuse_delete", False)
    return fakes.RefusingStorage


@pytest.fixture
def wav(tmp_path):
    return fakes.write_wav(tmp_path / "song.wav")


def test_an_upload_storage_refuses_gets_a_readable_json_error_and_stores_nothing(
    alice_client, refusing_storage, wav, private_media
):
    refusing_storage.refuse_save = True
    response = post_file(alice_client, wav, headers={"Accept": "application/json"})
    assert response.status_code == 503
    assert "could not store your file" in json.dumps(response.json()["errors"])
    assert not Track.objects.exists() and not SeparationJob.objects.exists()
    assert stored_files(private_media) == []


def test_an_upload_storage_refuses_gets_the_form_again_with_the_reason(
    alice_client, refusing_storage, wav
):
    refusing_storage.refuse_save = True
    response = post_file(alice_client, wav)
    assert response.status_code == 503
    assert "could not store your file just now" in response.content.decode()


@pytest.mark.django_db(transaction=True)  # autocommit, as in production: the hook runs at once
def test_a_delete_storage_refuses_says_so_and_the_worker_retries_it(
    alice_client, alice, tmp_path, fake_engine, refusing_storage, private_media
):
    track = make_track(owner=alice, tmp_path=tmp_path, title="Stuck", separated=True)
    names = track.stored_names
    refusing_storage.refuse_delete = True

    response = alice_client.post(reverse("tracks:delete", args=[track.id]), follow=True)

    shown = [str(message) for message in response.context["messages"]]
    assert shown == [
        "“Stuck” is deleted, but storage refused to remove its files just now. "
        "They will be removed automatically."
    ]
    assert not Track.objects.filter(id=track.id).exists()
    assert all((private_media / name).exists() for name in names)
    assert FileDeletion.objects.count() == 10  # nine files and the folder
    assert track_retry_file_deletions() == (0, 10)  # storage still refuses

    refusing_storage.refuse_delete = False
    assert track_retry_file_deletions() == (10, 0)
    assert not FileDeletion.objects.exists()
    assert stored_files(private_media) == []
    assert not (private_media / "tracks" / str(track.id)).exists()


@pytest.mark.django_db(transaction=True)
def test_a_delete_that_works_says_deleted_and_leaves_nothing_to_retry(
    alice_client, alice, tmp_path, fake_engine, refusing_storage, private_media
):
    track = make_track(owner=alice, tmp_path=tmp_path, title="Gone", separated=True)
    response = alice_client.post(reverse("tracks:delete", args=[track.id]), follow=True)
    assert [str(m) for m in response.context["messages"]] == ["“Gone” deleted."]
    assert not FileDeletion.objects.exists()
    assert stored_files(private_media) == []


def test_a_deletion_recorded_before_a_crash_is_carried_out_by_the_retry(
    alice, tmp_path, fake_engine, private_media
):
    """The track row went, and the process died before the commit hook deleted the files
    (here: the test's transaction never commits, so the hook never runs)."""
    from tracks.services import track_delete

    track = make_track(owner=alice, tmp_path=tmp_path, separated=True)
    assert track_delete(track=track).files_left is None
    assert FileDeletion.objects.count() == 10
    assert stored_files(private_media) != []
    assert track_retry_file_deletions() == (10, 0)
    assert stored_files(private_media) == []
