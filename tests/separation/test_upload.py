import json

import pytest
from django.urls import reverse

from separation.models import SeparationJob
from tests import fakes
from tracks.models import Track

UPLOAD = reverse("separation:upload")


def stored_files(media):
    return sorted(p for p in media.rglob("*") if p.is_file()) if media.exists() else []


def post_file(client, path, name=None, title="", quality=None, upload_key=None, **extra):
    """POST a raw multipart body, so the file name arrives exactly as given (the test
    client's own encoder would strip directories before the server sees them)."""
    boundary = "----jamwithme-test-boundary"
    filename = (name or path.name).replace('"', "%22")
    fields = {"title": title} if quality is None else {"title": title, "quality": quality}
    if upload_key is not None:
        fields["upload_key"] = str(upload_key)
    body = b"".join(
        [
            *(
                f'--{boundary}\r\nContent-Disposition: form-data; name="{field}"\r\n\r\n'
                f"{value}\r\n".encode()
                for field, value in fields.items()
            ),
            f"--{boundary}\r\n".encode(),
            f'Content-Disposition: form-data; name="file"; filename="{filename}"\r\n'.encode(),
            b"Content-Type: application/octet-stream\r\n\r\n",
            path.read_bytes(),
            f"\r\n--{boundary}--\r\n".encode(),
        ]
    )
    return client.post(
        UPLOAD, body, content_type=f"multipart/form-data; boundary={boundary}", **extra
    )


@pytest.fixture
def truncated_wav(tmp_path):
    whole = fakes.write_wav(tmp_path / "whole.wav", seconds=1.0).read_bytes()
    path = tmp_path / "truncated.wav"
    path.write_bytes(whole[:30])
    return path


def test_the_upload_page_shows_the_form(alice_client):
    response = alice_client.get(UPLOAD)
    assert response.status_code == 200
    assert b'enctype="multipart/form-data"' in response.content


def test_it_stores_a_valid_wav_and_queues_its_separation(
    alice_client, alice, wav_file, private_media
):
    response = post_file(alice_client, wav_file, title="My song")
    track = Track.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("tracks:detail", args=[track.id])
    assert (track.owner, track.title, track.original_filename) == (alice, "My song", "song.wav")
    assert track.duration_s == pytest.approx(1.0, abs=0.01)
    assert track.sample_rate == 44100
    assert track.original.name == f"tracks/{track.id}/original.wav"
    assert (private_media / track.original.name).exists()
    assert track.job.status == SeparationJob.Status.QUEUED


def test_a_song_asked_for_cleaner_is_queued_cleaner_and_one_asked_for_nothing_standard(
    alice_client, wav_file
):
    page = alice_client.get(UPLOAD).content.decode()
    assert 'name="quality" value="cleaner"' in page and "Wiener filter" in page
    post_file(alice_client, wav_file, title="Clean", quality="cleaner")
    post_file(alice_client, wav_file, title="Plain")
    qualities = dict(Track.objects.values_list("title", "job__quality"))
    assert qualities == {"Clean": "cleaner", "Plain": "standard"}


def test_an_unknown_quality_is_refused_with_the_choices_and_nothing_is_stored(
    alice_client, wav_file, private_media
):
    response = post_file(
        alice_client, wav_file, quality="best", headers={"Accept": "application/json"}
    )
    assert response.status_code == 400
    assert response.json()["errors"] == [
        "Select a valid choice. best is not one of the available choices."
    ]
    assert not Track.objects.exists() and not any(private_media.rglob("*.wav"))


def test_the_title_defaults_to_the_file_name(alice_client, wav_file):
    post_file(alice_client, wav_file, name="Blue in Green.wav")
    assert Track.objects.get().title == "Blue in Green"


def test_a_flac_upload_is_accepted(alice_client, settings):
    response = post_file(
        alice_client, settings.BASE_DIR / "tests/data/dev1_vocadito10_loops/mix.flac"
    )
    assert response.status_code == 302
    track = Track.objects.get()
    assert track.original.name.endswith(".flac")
    assert track.duration_s == pytest.approx(16, abs=0.5)


def test_the_json_mode_answers_with_the_track_page(alice_client, wav_file):
    response = post_file(alice_client, wav_file, headers={"Accept": "application/json"})
    assert response.status_code == 201
    body = response.json()
    assert body["redirect"] == reverse("tracks:detail", args=[body["track_id"]])


@pytest.mark.parametrize(
    ("make", "message"),
    [
        ("text_named_wav", "could not read that file as audio"),
        ("truncated", "could not read that file as audio"),
        ("empty", "empty"),
        ("not_audio_extension", "Please upload an audio file"),
    ],
)
def test_it_refuses_bad_input_with_a_clear_message_and_stores_nothing(
    alice_client, tmp_path, truncated_wav, private_media, make, message
):
    if make == "text_named_wav":
        path = tmp_path / "notes.wav"
        path.write_text("These are my lyrics, not audio.\n" * 50)
    elif make == "truncated":
        path = truncated_wav
    elif make == "empty":
        path = tmp_path / "empty.wav"
        path.write_bytes(b"")
    else:
        path = fakes.write_wav(tmp_path / "song.wav").rename(tmp_path / "song.exe")
    response = post_file(alice_client, path)
    assert response.status_code == 400
    assert message.lower() in response.content.decode().lower()
    assert not Track.objects.exists()
    assert not SeparationJob.objects.exists()
    assert stored_files(private_media) == []


def test_it_refuses_a_file_over_the_size_limit_while_streaming(
    alice_client, tmp_path, settings, private_media
):
    settings.JAM_MAX_UPLOAD_BYTES = 10_000
    path = fakes.write_wav(tmp_path / "big.wav", seconds=1.0)  # ~176 kB
    response = post_file(alice_client, path)
    assert response.status_code == 400
    assert "too big" in response.content.decode()
    assert not Track.objects.exists()
    assert stored_files(private_media) == []


def test_it_refuses_a_song_over_the_duration_limit(alice_client, tmp_path, settings, private_media):
    settings.JAM_MAX_DURATION_S = 0.5
    response = post_file(alice_client, fakes.write_wav(tmp_path / "long.wav", seconds=1.0))
    assert response.status_code == 400
    assert "too long" in response.content.decode()
    assert not Track.objects.exists()
    assert stored_files(private_media) == []


def test_the_json_mode_lists_the_errors(alice_client, tmp_path):
    path = tmp_path / "notes.wav"
    path.write_text("not audio")
    response = post_file(alice_client, path, headers={"Accept": "application/json"})
    assert response.status_code == 400
    assert "could not read" in json.dumps(response.json()["errors"]).lower()


@pytest.mark.parametrize(
    ("name", "title"),
    [
        ("../../etc/passwd.wav", "passwd"),
        ("<script>.wav", "<script>"),
        ("<img src=x onerror=alert(1)>.wav", "<img src=x onerror=alert(1)>"),
        ("..\\..\\windows\\evil.wav", "evil"),
    ],
)
def test_a_hostile_file_name_is_only_a_title_and_never_a_path(
    alice_client, wav_file, private_media, name, title
):
    response = post_file(alice_client, wav_file, name=name)
    assert response.status_code == 302
    track = Track.objects.get()
    assert track.title == title
    assert track.original.name == f"tracks/{track.id}/original.wav"
    assert [p.relative_to(private_media).as_posix() for p in stored_files(private_media)] == [
        track.original.name
    ]
    page = alice_client.get(reverse("tracks:detail", args=[track.id])).content.decode()
    assert title not in page or title in ("passwd", "evil")


def test_anonymous_users_cannot_upload(client, wav_file, db):
    response = post_file(client, wav_file)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))
    assert not Track.objects.exists()


def test_the_error_message_does_not_mention_the_temporary_file(alice_client, tmp_path):
    path = tmp_path / "notes.wav"
    path.write_text("not audio\n" * 100)
    response = post_file(alice_client, path, headers={"Accept": "application/json"})
    message = response.json()["errors"][0]
    assert message.startswith("We could not read that file as audio")
    assert ".upload" not in message and "tmp" not in message
    assert "notes.wav: not an audio file we can read" in message
