"""Every URL that touches a track, tried by everyone: the one access rule (tracks.access).

owner      everything
moderator  staff with the moderator permission: sees, plays and downloads any track, but
           cannot rename, delete, retry or cancel someone else's (403: they may see it)
staff      staff without that permission: an outsider like any other user (404)
other      another user: 404, never a hint that the track exists
anonymous  sent to log in
"""

import pytest
from django.urls import reverse

from tests.factories import make_track

OK, REDIRECT, FORBIDDEN, HIDDEN, LOG_IN = 200, 302, 403, 404, "log in"

# (url name, extra args, method, owner, moderator)
TRACK_URLS = [
    ("tracks:detail", [], "get", OK, OK),
    ("tracks:row", [], "get", OK, OK),
    ("tracks:panel", [], "get", OK, OK),
    ("tracks:audio", ["original"], "get", OK, OK),
    ("tracks:audio", ["instrumental"], "get", OK, OK),
    ("tracks:audio", ["vocals"], "get", OK, OK),
    ("tracks:download", ["instrumental"], "get", OK, OK),
    ("tracks:download", ["vocals"], "get", OK, OK),
    ("tracks:waveform", ["original"], "get", OK, OK),
    ("tracks:waveform", ["instrumental"], "get", OK, OK),
    ("tracks:waveform", ["vocals"], "get", OK, OK),
    ("tracks:rename", [], "post", REDIRECT, FORBIDDEN),
    ("separation:retry", [], "post", REDIRECT, FORBIDDEN),
    ("separation:cancel", [], "post", REDIRECT, FORBIDDEN),
    ("tracks:delete", [], "post", REDIRECT, FORBIDDEN),
]
WHO = ("owner", "moderator", "staff", "other", "anonymous")


def expected(row, who):
    *_, owner, moderator = row
    return {
        "owner": owner,
        "moderator": moderator,
        "staff": HIDDEN,
        "other": HIDDEN,
        "anonymous": LOG_IN,
    }[who]


CASES = [(row, who) for row in TRACK_URLS for who in WHO]
IDS = [f"{row[0]}{'-' + row[1][0] if row[1] else ''}-{who}" for row, who in CASES]


@pytest.fixture
def track(alice, tmp_path, fake_engine):
    return make_track(owner=alice, tmp_path=tmp_path, title="Alice's song", separated=True)


@pytest.fixture
def clients(client, alice, moderator, staff, bob):
    from django.test import Client

    made = {"anonymous": client}
    for who, user in (("owner", alice), ("moderator", moderator), ("staff", staff), ("other", bob)):
        made[who] = Client()
        made[who].force_login(user)
    return made


def call(client, method, url):
    if method == "post":
        return client.post(url, {"title": "Renamed"})
    response = client.get(url)
    if hasattr(response, "streaming_content"):
        b"".join(response.streaming_content)
    return response


@pytest.mark.parametrize(("row", "who"), CASES, ids=IDS)
def test_each_person_gets_what_the_access_rule_allows(clients, track, row, who):
    name, args, method, *_ = row
    response = call(clients[who], method, reverse(name, args=[track.id, *args]))
    outcome = expected(row, who)
    if outcome == LOG_IN:
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("login"))
    else:
        assert response.status_code == outcome
    if outcome not in (OK, REDIRECT):
        track.refresh_from_db()  # nothing changed: not renamed, not deleted
        assert track.title == "Alice's song"
        assert track.job.status == "done"


@pytest.mark.parametrize("who", ["staff", "other"])
def test_an_outsider_cannot_tell_a_track_from_one_that_does_not_exist(clients, track, who):
    real = clients[who].get(reverse("tracks:detail", args=[track.id]))
    nowhere = "00000000-0000-0000-0000-000000000000"
    made_up = clients[who].get(reverse("tracks:detail", args=[nowhere]))
    assert real.status_code == made_up.status_code == 404
    assert real.content == made_up.content


def test_a_moderator_sees_whose_track_it_is_and_no_owner_controls(clients, track):
    page = clients["moderator"].get(reverse("tracks:detail", args=[track.id])).content.decode()
    assert "by alice" in page
    assert reverse("tracks:rename", args=[track.id]) not in page
    assert reverse("tracks:delete", args=[track.id]) not in page


def test_a_moderators_library_holds_only_their_own_tracks(clients, track):
    page = clients["moderator"].get(reverse("tracks:library")).content.decode()
    assert "Alice&#x27;s song" not in page and "Alice's song" not in page


def test_a_suspended_account_has_no_access(clients, alice, track):
    alice.is_active = False
    alice.save(update_fields=("is_active",))
    response = clients["owner"].get(reverse("tracks:detail", args=[track.id]))
    assert response.status_code == 302  # the session no longer logs anyone in


@pytest.mark.parametrize("name", ["tracks:library", "separation:upload", "password_change"])
def test_anonymous_is_sent_to_log_in_from_pages_without_a_track(client, db, name):
    response = client.get(reverse(name))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_an_unknown_media_kind_is_a_404(clients, track):
    owner = clients["owner"]
    assert owner.get(reverse("tracks:audio", args=[track.id, "drums"])).status_code == 404
    assert owner.get(reverse("tracks:download", args=[track.id, "original"])).status_code == 404


def test_stems_of_an_unseparated_track_are_a_404(alice_client, alice, tmp_path):
    track = make_track(owner=alice, tmp_path=tmp_path, separated=False)
    audio = alice_client.get(reverse("tracks:audio", args=[track.id, "instrumental"]))
    waveform = alice_client.get(reverse("tracks:waveform", args=[track.id, "vocals"]))
    assert audio.status_code == waveform.status_code == 404


def test_media_has_no_public_url(client, track, settings):
    response = client.get(f"/media/{track.original.name}")
    assert response.status_code == 404
