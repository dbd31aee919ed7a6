"""Files on S3-compatible storage, against a real S3 server on loopback (moto's), with the
storage options our settings build from the environment: uploads and stems land in the
bucket, media answers with a short-lived signed redirect only after the access check, the
bucket honours Range itself, and deletions and refused writes leave nothing behind."""

import urllib.error
import urllib.request

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.files.storage import default_storage
from django.urls import reverse

from jamwithme.env import s3_storage_from_env
from separation.kind import SEPARATION
from separation.models import SeparationJob
from tests.factories import make_track
from tests.separation.test_upload import post_file
from tracks import files
from tracks.models import Asset, Track
from tracks.sharing import share_link_create, share_link_revoke

pytestmark = [pytest.mark.s3, pytest.mark.django_db(transaction=True)]


def keys(s3, bucket, prefix=""):
    listed = s3.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", [])
    return sorted(item["Key"] for item in listed)


def fetch(url, headers=None):
    """GET a URL as a browser would after our redirect: (status, headers, body)."""
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read()


def test_the_settings_build_the_s3_options_from_the_environment(monkeypatch):
    monkeypatch.setenv("AWS_S3_ENDPOINT_URL", "http://minio:9000/")
    monkeypatch.setenv("AWS_S3_REGION_NAME", "us-east-1")
    monkeypatch.setenv("AWS_S3_ADDRESSING_STYLE", "path")
    monkeypatch.setenv("AWS_S3_ACCESS_KEY_ID", "k")
    monkeypatch.setenv("AWS_S3_SECRET_ACCESS_KEY", "s")
    monkeypatch.delenv("JAM_S3_URL_EXPIRE_S", raising=False)
    entry = s3_storage_from_env("songs")
    assert entry["BACKEND"] == "storages.backends.s3.S3Storage"
    assert entry["OPTIONS"] == {
        "bucket_name": "songs",
        "endpoint_url": "http://minio:9000",
        "region_name": "us-east-1",
        "addressing_style": "path",
        "signature_version": "s3v4",
        "access_key": "k",
        "secret_key": "s",
        "default_acl": "private",
        "querystring_auth": True,
        "querystring_expire": 300,
        "custom_domain": None,
        "file_overwrite": False,
    }


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("AWS_S3_ADDRESSING_STYLE", "Path"),
        ("AWS_S3_ENDPOINT_URL", "minio:9000"),
        ("AWS_S3_SIGNATURE_VERSION", "v4"),
        ("JAM_S3_URL_EXPIRE_S", "86400"),
        ("AWS_S3_ACCESS_KEY_ID", "a key without its secret"),
    ],
)
def test_a_malformed_s3_setting_stops_the_process(monkeypatch, variable, value):
    for name in ("AWS_S3_ACCESS_KEY_ID", "AWS_S3_SECRET_ACCESS_KEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv(variable, value)
    with pytest.raises(ImproperlyConfigured, match=variable):
        s3_storage_from_env("songs")


def test_an_upload_is_stored_in_the_bucket(alice_client, bucket, s3, wav_file):
    response = post_file(alice_client, wav_file)
    assert response.status_code == 302
    track = Track.objects.get()
    assert keys(s3, bucket) == [f"tracks/{track.id}/original.wav"]


def test_the_worker_stores_stems_and_waveforms_in_the_bucket(alice, bucket, s3, tmp_path):
    track = make_track(owner=alice, tmp_path=tmp_path, separated=True)
    assert track.job.status == SeparationJob.Status.DONE
    assert keys(s3, bucket) == sorted(track.stored_names)
    assert len(track.stored_names) == 9  # original, two stems, three waveforms, three peaks


@pytest.fixture
def track(alice, bucket, tmp_path):
    return make_track(owner=alice, tmp_path=tmp_path, title="Blue Song", separated=True)


def test_the_owner_is_redirected_to_a_short_lived_url_where_the_bucket_serves_ranges(
    alice_client, track, s3, bucket
):
    response = alice_client.get(reverse("tracks:audio", args=[track.id, "instrumental"]))
    assert response.status_code == 302
    assert response["Cache-Control"] == "private, no-store"
    url = response["Location"]
    assert "X-Amz-Signature=" in url and "X-Amz-Expires=60" in url

    name = track.asset(Asset.Kind.STEM, "instrumental").name
    whole = s3.get_object(Bucket=bucket, Key=name)["Body"].read()
    status, headers, body = fetch(url, {"Range": "bytes=100-199"})
    assert status == 206
    assert body == whole[100:200]
    assert headers["Content-Range"] == f"bytes 100-199/{len(whole)}"
    assert headers["Content-Type"] == "audio/wav"
    assert headers["Content-Disposition"] == "inline"


def test_a_url_without_its_signature_is_refused_by_the_bucket(alice_client, track):
    response = alice_client.get(reverse("tracks:audio", args=[track.id, "instrumental"]))
    unsigned = response["Location"].split("?")[0]
    status, _, _ = fetch(unsigned)
    assert status == 403


def test_an_outsider_gets_404_and_no_url(bob_client, client, track):
    for someone in (bob_client, client):
        for view in ("tracks:audio", "tracks:download", "tracks:waveform"):
            response = someone.get(reverse(view, args=[track.id, "instrumental"]))
            assert response.status_code in (404, 302)
            if response.status_code == 302:  # the anonymous one: to the sign-in page
                assert response["Location"].startswith(reverse("login"))
            assert "X-Amz" not in response.get("Location", "")


def test_a_download_redirect_makes_the_bucket_send_an_attachment(alice_client, track):
    response = alice_client.get(reverse("tracks:download", args=[track.id, "instrumental"]))
    assert response.status_code == 302
    status, headers, body = fetch(response["Location"])
    assert status == 200
    assert headers["Content-Disposition"] == 'attachment; filename="Blue Song - instrumental.wav"'
    assert headers["Content-Type"] == "audio/wav"
    assert body[:4] == b"RIFF"


def test_a_waveform_is_redirected_too(alice_client, track):
    response = alice_client.get(reverse("tracks:waveform", args=[track.id, "instrumental"]))
    assert response.status_code == 302
    status, headers, body = fetch(response["Location"])
    assert (status, headers["Content-Type"]) == (200, "image/png")
    assert body.startswith(b"\x89PNG")


def test_a_share_link_redirects_until_it_is_revoked(client, alice, track):
    link, token = share_link_create(track=track, by=alice, expires_in_days=1)
    url = reverse("tracks:link_audio", args=[token, "instrumental"])
    assert client.get(url).status_code == 302
    share_link_revoke(link=link, by=alice)
    response = client.get(url)
    assert response.status_code == 404
    assert "Location" not in response


def test_deleting_a_track_deletes_its_objects(alice_client, track, s3, bucket):
    assert keys(s3, bucket) != []
    response = alice_client.post(reverse("tracks:delete", args=[track.id]), follow=True)
    assert [str(m) for m in response.context["messages"]] == ["“Blue Song” deleted."]
    assert keys(s3, bucket) == []


def test_a_write_the_bucket_refuses_fails_the_job_and_leaves_no_orphans(
    alice, bucket, s3, tmp_path, monkeypatch
):
    """The third output goes to a bucket that does not exist: the server refuses it
    (NoSuchBucket), the job fails with a reason, and the two stored before are deleted."""
    real_save = files.save_file
    calls = []

    def third_write_refused(name, path, **kwargs):
        calls.append(name)
        if len(calls) != 3:
            return real_save(name, path, **kwargs)
        storage = default_storage._wrapped
        kept = storage._bucket
        storage._bucket = storage.connection.Bucket(f"{bucket}-gone")
        try:
            return real_save(name, path, **kwargs)
        finally:
            storage._bucket = kept

    monkeypatch.setattr(files, "save_file", third_write_refused)
    track = make_track(owner=alice, tmp_path=tmp_path, separated=True)

    assert len(calls) == 3
    assert track.job.status == SeparationJob.Status.FAILED
    assert track.job.error == SEPARATION.generic_failure
    assert keys(s3, bucket) == [f"tracks/{track.id}/original.wav"]
