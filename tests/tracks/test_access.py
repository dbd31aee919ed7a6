"""Every URL that touches a track: the owner gets it, another user a 404, anonymous the login."""

import pytest
from django.urls import reverse

from tests.factories import make_track

# (url name, extra args, method, owner's expected status)
TRACK_URLS = [
    ("tracks:detail", [], "get", 200),
    ("tracks:row", [], "get", 200),
    ("tracks:audio", ["original"], "get", 200),
    ("tracks:audio", ["instrumental"], "get", 200),
    ("tracks:audio", ["vocals"], "get", 200),
    ("tracks:download", ["instrumental"], "get", 200),
    ("tracks:download", ["vocals"], "get", 200),
    ("tracks:waveform", ["original"], "get", 200),
    ("tracks:waveform", ["instrumental"], "get", 200),
    ("tracks:waveform", ["vocals"], "get", 200),
    ("tracks:rename", [], "post", 302),
    ("separation:retry", [], "post", 302),
    ("separation:cancel", [], "post", 302),
    ("tracks:delete", [], "post", 302),
]
IDS = [f"{name}{'-' + args[0] if args else ''}" for name, args, _, _ in TRACK_URLS]


@pytest.fixture
def track(alice, tmp_path, fake_engine):
    return make_track(owner=alice, tmp_path=tmp_path, title="Alice's song", separated=True)


def call(client, method, url):
    if method == "post":
        return client.post(url, {"title": "Renamed"})
    response = client.get(url)
    if hasattr(response, "streaming_content"):
        b"".join(response.streaming_content)
    return response


@pytest.mark.parametrize(("name", "args", "method", "expected"), TRACK_URLS, ids=IDS)
def test_the_owner_can_use_it(alice_client, track, name, args, method, expected):
    response = call(alice_client, method, reverse(name, args=[track.id, *args]))
    assert response.status_code == expected


@pytest.mark.parametrize(("name", "args", "method", "expected"), TRACK_URLS, ids=IDS)
def test_another_user_gets_a_404(bob_client, track, name, args, method, expected):
    response = call(bob_client, method, reverse(name, args=[track.id, *args]))
    assert response.status_code == 404
    track.refresh_from_db()
    assert track.title == "Alice's song"


@pytest.mark.parametrize(("name", "args", "method", "expected"), TRACK_URLS, ids=IDS)
def test_anonymous_is_sent_to_log_in(client, track, name, args, method, expected):
    response = call(client, method, reverse(name, args=[track.id, *args]))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))
    track.refresh_from_db()
    assert track.title == "Alice's song"


@pytest.mark.parametrize("name", ["tracks:library", "tracks:upload", "password_change"])
def test_anonymous_is_sent_to_log_in_from_pages_without_a_track(client, db, name):
    response = client.get(reverse(name))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_an_unknown_track_is_a_404_for_everyone(alice_client, db):
    url = reverse("tracks:detail", args=["00000000-0000-0000-0000-000000000000"])
    assert alice_client.get(url).status_code == 404


def test_an_unknown_media_kind_is_a_404(alice_client, track):
    assert alice_client.get(reverse("tracks:audio", args=[track.id, "drums"])).status_code == 404
    assert (
        alice_client.get(reverse("tracks:download", args=[track.id, "original"])).status_code == 404
    )


def test_stems_of_an_unseparated_track_are_a_404(alice_client, alice, tmp_path):
    track = make_track(owner=alice, tmp_path=tmp_path, separated=False)
    assert (
        alice_client.get(reverse("tracks:audio", args=[track.id, "instrumental"])).status_code
        == 404
    )
    assert (
        alice_client.get(reverse("tracks:waveform", args=[track.id, "vocals"])).status_code == 404
    )


def test_media_has_no_public_url(client, track, settings):
    response = client.get(f"/media/{track.original.name}")
    assert response.status_code == 404
