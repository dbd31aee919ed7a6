"""Uploads straight to the bucket (presigned multipart, tracks/direct.py) against a real S3
server on loopback (moto's): the web node signs, the bytes go from the client to the bucket,
the finish verifies and makes the track and its job as an upload through the node would;
resuming after a dropped connection sends only the missing parts; a retried upload (its
first answer lost) finds the first one's track; multipart debris is aborted."""

import json
import urllib.request
import uuid

import pytest
from django.urls import reverse

from separation.models import SeparationJob
from tests import fakes
from tests.separation.test_upload import post_file
from tests.tracks.test_s3 import keys
from tracks import direct, files
from tracks.models import DirectUpload, Track
from tracks.services import direct_uploads_sweep

pytestmark = [pytest.mark.s3, pytest.mark.django_db(transaction=True)]

START = reverse("separation:direct_start")


def sign_url(key):
    return reverse("separation:direct_sign", args=[key])


def finish_url(key):
    return reverse("separation:direct_finish", args=[key])


def post_json(client, url, data=None):
    return client.post(url, json.dumps(data or {}), content_type="application/json")


def put(url, body: bytes) -> int:
    """PUT a part to the bucket as the browser does (straight there, no cookie of ours)."""
    request = urllib.request.Request(
        url, data=body, method="PUT", headers={"Content-Type": "application/octet-stream"}
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return response.status


def start(client, path, key, **extra):
    return post_json(
        client,
        START,
        {"upload_key": str(key), "filename": path.name, "size": path.stat().st_size, **extra},
    )


def send_parts(client, path, key, plan, only=None):
    """Sign and PUT the parts the plan still lacks (or just ``only``)."""
    missing = [n for n in range(1, plan["part_count"] + 1) if n not in plan["done_parts"]]
    numbers = only if only is not None else missing
    urls = post_json(client, sign_url(key), {"parts": numbers}).json()["urls"]
    data = path.read_bytes()
    each = plan["part_size"]
    for number in numbers:
        assert put(urls[str(number)], data[(number - 1) * each : number * each]) == 200
    return numbers


@pytest.fixture
def song(tmp_path):
    return fakes.write_wav(tmp_path / "song.wav", seconds=1.0)


@pytest.fixture
def long_song(tmp_path):
    """About 10.6 MB: two parts of 8 MiB's."""
    return fakes.write_wav(tmp_path / "long song.wav", seconds=60.0)


def test_local_storage_keeps_uploads_through_the_node_and_has_no_direct_endpoints(
    alice_client, song, private_media
):
    page = alice_client.get(reverse("separation:upload"))
    assert b"data-direct" not in page.content
    assert start(alice_client, song, uuid.uuid4()).status_code == 404


def test_a_direct_upload_lands_in_the_bucket_and_becomes_a_track_with_its_job(
    alice_client, bucket, s3, long_song
):
    page = alice_client.get(reverse("separation:upload"))
    assert b"data-direct" in page.content
    key = uuid.uuid4()
    plan = start(alice_client, long_song, key, title="Long one", quality="cleaner").json()
    assert (plan["part_count"], plan["done_parts"]) == (2, [])
    send_parts(alice_client, long_song, key, plan)

    response = post_json(alice_client, finish_url(key))
    assert response.status_code == 201
    track = Track.objects.get()
    assert response.json() == {
        "track_id": str(track.id),
        "redirect": reverse("tracks:detail", args=[track.id]),
    }
    assert (track.title, track.size_bytes, track.upload_key) == (
        "Long one",
        long_song.stat().st_size,
        key,
    )
    assert round(track.duration_s) == 60 and track.container == "wav"
    assert track.job.status == SeparationJob.Status.QUEUED
    assert track.job.quality == SeparationJob.Quality.CLEANER
    assert keys(s3, bucket) == [track.original.name]
    stored = s3.get_object(Bucket=bucket, Key=track.original.name)["Body"].read()
    assert stored == long_song.read_bytes()
    assert DirectUpload.objects.count() == 0
    assert s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []


def test_after_a_dropped_connection_the_retry_sends_only_the_missing_parts(
    alice_client, bucket, s3, long_song
):
    key = uuid.uuid4()
    first = start(alice_client, long_song, key).json()
    send_parts(alice_client, long_song, key, first, only=[1])  # then the connection drops

    again = start(alice_client, long_song, key).json()
    assert again["done_parts"] == [1]
    assert DirectUpload.objects.count() == 1
    assert send_parts(alice_client, long_song, key, again) == [2]
    assert post_json(alice_client, finish_url(key)).status_code == 201
    track = Track.objects.get()
    assert s3.get_object(Bucket=bucket, Key=track.original.name)["Body"].read() == (
        long_song.read_bytes()
    )


def test_each_part_url_is_signed_for_that_part_s_length_only(alice_client, bucket, long_song):
    key = uuid.uuid4()
    plan = start(alice_client, long_song, key).json()
    urls = post_json(alice_client, sign_url(key), {"parts": [2, 1, 3, 0]}).json()["urls"]
    assert sorted(urls) == ["1", "2"]  # only the parts the file has
    for url in urls.values():
        assert "X-Amz-SignedHeaders=content-length%3Bhost" in url
    assert plan["part_size"] == 8 * 1024 * 1024
    size = long_song.stat().st_size
    assert direct.part_length(1, plan["part_size"], size) == plan["part_size"]
    assert direct.part_length(2, plan["part_size"], size) == size - plan["part_size"]


@pytest.mark.parametrize("parts", [None, "1", [], [True], list(range(1, 102))])
def test_a_malformed_signing_request_is_refused(alice_client, bucket, song, parts):
    key = uuid.uuid4()
    start(alice_client, song, key)
    response = post_json(alice_client, sign_url(key), {"parts": parts})
    assert response.status_code == 400
    assert response.json() == {"errors": ["A list of up to 100 part numbers."]}


def test_a_finish_whose_answer_was_lost_is_retried_into_the_same_track(alice_client, bucket, song):
    key = uuid.uuid4()
    plan = start(alice_client, song, key).json()
    send_parts(alice_client, song, key, plan)
    first = post_json(alice_client, finish_url(key))  # committed; say the answer was lost
    assert first.status_code == 201

    retried = post_json(alice_client, finish_url(key))
    restarted = start(alice_client, song, key)
    assert retried.status_code == restarted.status_code == 201
    assert retried.json() == restarted.json() == first.json()
    assert Track.objects.count() == SeparationJob.objects.count() == 1


def test_a_finish_before_every_part_arrived_is_refused_and_can_be_completed_later(
    alice_client, bucket, long_song
):
    key = uuid.uuid4()
    plan = start(alice_client, long_song, key).json()
    send_parts(alice_client, long_song, key, plan, only=[2])
    response = post_json(alice_client, finish_url(key))
    assert response.status_code == 400
    assert response.json()["errors"] == ["The upload did not arrive completely. Please try again."]
    plan = start(alice_client, long_song, key).json()
    send_parts(alice_client, long_song, key, plan)
    assert post_json(alice_client, finish_url(key)).status_code == 201


def test_a_direct_upload_that_is_not_audio_is_refused_and_deleted_from_the_bucket(
    alice_client, bucket, s3, tmp_path
):
    fake = tmp_path / "song.mp3"
    fake.write_bytes(b"<html>not a song</html>" * 1000)
    key = uuid.uuid4()
    send_parts(alice_client, fake, key, start(alice_client, fake, key).json())
    response = post_json(alice_client, finish_url(key))
    assert response.status_code == 400
    assert response.json()["errors"][0].startswith("We could not read that file as audio")
    assert keys(s3, bucket) == []
    assert Track.objects.count() == DirectUpload.objects.count() == 0


def test_a_file_smaller_than_it_was_signed_for_is_refused(alice_client, bucket, s3, song):
    key = uuid.uuid4()
    size = song.stat().st_size
    plan = post_json(
        alice_client,
        START,
        {"upload_key": str(key), "filename": song.name, "size": size + 10},
    ).json()
    send_parts(alice_client, song, key, plan)
    response = post_json(alice_client, finish_url(key))
    assert response.status_code == 400
    assert keys(s3, bucket) == [] and Track.objects.count() == 0


def test_the_duration_limit_is_checked_from_the_range_read_header(
    alice_client, bucket, s3, settings, long_song
):
    settings.JAM_MAX_DURATION_S = 30
    key = uuid.uuid4()
    send_parts(alice_client, long_song, key, start(alice_client, long_song, key).json())
    response = post_json(alice_client, finish_url(key))
    assert response.status_code == 400
    assert "too long" in response.json()["errors"][0]
    assert keys(s3, bucket) == [] and Track.objects.count() == 0


def test_per_user_limits_are_checked_when_signing(alice_client, alice, bucket, settings, song):
    settings.JAM_MAX_UPLOAD_BYTES = 1000
    response = start(alice_client, song, uuid.uuid4())
    assert response.status_code == 400
    assert response.json()["errors"] == ["That file is too big. The limit is 1000\xa0bytes."]

    settings.JAM_MAX_UPLOAD_BYTES = 10**9
    settings.JAM_USER_MAX_ACTIVE_JOBS = 1
    from tests.factories import make_track

    make_track(owner=alice, tmp_path=song.parent)  # queued: the one active job allowed
    response = start(alice_client, song, uuid.uuid4())
    assert response.status_code == 400
    assert "the limit is 1" in response.json()["errors"][0]
    assert DirectUpload.objects.count() == 0


def test_per_user_limits_are_checked_again_at_the_finish(
    alice_client, alice, bucket, s3, settings, song
):
    key = uuid.uuid4()
    send_parts(alice_client, song, key, start(alice_client, song, key).json())
    settings.JAM_USER_MAX_ACTIVE_JOBS = 1
    from tests.factories import make_track

    make_track(owner=alice, tmp_path=song.parent)
    response = post_json(alice_client, finish_url(key))
    assert response.status_code == 400
    assert Track.objects.filter(owner=alice).count() == 1  # the other one only


def test_someone_else_s_direct_upload_cannot_be_signed_or_finished(
    alice_client, bob_client, bucket, song
):
    key = uuid.uuid4()
    start(alice_client, song, key)
    assert post_json(bob_client, sign_url(key), {"parts": [1]}).status_code == 404
    assert post_json(bob_client, finish_url(key)).status_code == 404


# --- Idempotency through the node (local storage) -----------------------------------------


def test_a_retried_upload_through_the_node_finds_the_first_track(alice_client, song, private_media):
    key = uuid.uuid4()
    accept = {"HTTP_ACCEPT": "application/json"}
    first = post_file(alice_client, song, upload_key=key, **accept)  # committed; answer lost
    assert first.status_code == 201
    retried = post_file(alice_client, song, upload_key=key, **accept)
    assert retried.status_code == 201
    assert retried.json() == first.json()
    assert Track.objects.count() == SeparationJob.objects.count() == 1
    other = post_file(alice_client, song, upload_key=uuid.uuid4(), **accept)
    assert other.json()["track_id"] != first.json()["track_id"]


# --- Debris --------------------------------------------------------------------------------


def test_the_sweep_aborts_a_multipart_upload_whose_uploader_died(bucket, s3):
    s3.create_multipart_upload(Bucket=bucket, Key="tracks/x/1234-vocals.wav")
    s3.create_multipart_upload(Bucket=bucket, Key="elsewhere/not-ours")
    # ... the worker is killed here: nobody completes or aborts it.
    # moto dates every upload 2010-11-10: one younger than the cut-off (30 years) is kept.
    assert direct_uploads_sweep(older_than_h=30 * 365 * 24) == 0
    assert len(s3.list_multipart_uploads(Bucket=bucket, Prefix="tracks/")["Uploads"]) == 1

    assert direct_uploads_sweep(older_than_h=0) == 1
    assert s3.list_multipart_uploads(Bucket=bucket, Prefix="tracks/").get("Uploads", []) == []
    assert len(s3.list_multipart_uploads(Bucket=bucket)["Uploads"]) == 1  # not under media


def test_the_sweep_forgets_an_abandoned_direct_upload(alice_client, bucket, s3, long_song):
    key = uuid.uuid4()
    plan = start(alice_client, long_song, key).json()
    send_parts(alice_client, long_song, key, plan, only=[1])  # and never came back
    direct_uploads_sweep(older_than_h=0)
    assert DirectUpload.objects.count() == 0
    assert s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []
    assert keys(s3, bucket) == []


def test_storing_a_big_file_that_fails_midway_leaves_no_incomplete_upload(bucket, s3, tmp_path):
    """Stems are stored with boto's upload_fileobj, multipart past 8 MB: a failure mid-way
    (here the file's reader breaks after some reads) aborts it."""
    big = tmp_path / "stem.wav"
    big.write_bytes(b"\0" * (24 * 1024 * 1024))
    reads = []

    def breaks_midway(read):
        reads.append(read)
        if read > 10 * 1024 * 1024:
            raise OSError("the disk went away")

    with pytest.raises(OSError, match="the disk went away"):
        files.save_file("tracks/x/run-instrumental.wav", big, on_read=breaks_midway)
    assert len(reads) > 1
    assert s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []
    assert keys(s3, bucket) == []


def test_a_storing_worker_aborts_its_own_upload_and_no_other(bucket, s3):
    mine = "tracks/x/run-vocals.wav"
    s3.create_multipart_upload(Bucket=bucket, Key=mine)
    s3.create_multipart_upload(Bucket=bucket, Key=mine + "-other")
    assert direct.abort_all_of(mine) == 1
    left = s3.list_multipart_uploads(Bucket=bucket)["Uploads"]
    assert [upload["Key"] for upload in left] == [mine + "-other"]
