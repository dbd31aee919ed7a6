"""The access matrix: every URL, file, share link and live event about a track, tried by
everyone, against the one access rule (tracks.access). Alice owns a separated track and has
shared it with her band (the vocals not allowed); the people:

owner       alice: everything
band_admin  dave, an admin of the band: the jam track only — plays, downloads, exports,
            reports it
bandmate    bob, a member: the same
viewer      vera, a viewer in the band: plays the jam track and reports it, but downloads
            and exports nothing (403: she may see the track)
former      erin, who left the band: an outsider again (404)
other       carol, in no band of alice's: 404, never a hint that the track exists
staff       stan, staff without the moderator permission: an outsider like any other (404)
suspended   fred, a bandmate whose account is suspended: his session logs nobody in
anonymous   sent to log in
moderator   mona: sees, plays and downloads any track; cannot export it, nor rename,
            delete, share, retry or cancel someone else's (403: she may see it)
"""

import io
import re
import zipfile
from datetime import timedelta

import pytest
from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from bands.models import Membership
from jamwithme.asgi import application
from practice.models import MIX, Render
from separation.events import job_publish
from tests import fakes
from tests.factories import make_band, make_track
from tests.sentinels import heard_before_a_sentinel
from tracks.access import Need, still_allowed, track_access
from tracks.models import Report, ShareLink, Track, TrackShare
from tracks.services import track_record_rendition, track_store_rendition
from tracks.sharing import share_link_create, share_link_revoke, track_share

OK, REDIRECT, FORBIDDEN, HIDDEN, LOG_IN = 200, 302, 403, 404, "log in"
WHO = (
    "owner",
    "band_admin",
    "bandmate",
    "viewer",
    "former",
    "other",
    "staff",
    "suspended",
    "anonymous",
    "moderator",
)
OUT = {"former": HIDDEN, "other": HIDDEN, "staff": HIDDEN, "suspended": LOG_IN}
OUT["anonymous"] = LOG_IN

# (url name, extra args, method, owner, bandmate (and band admin), viewer, moderator);
# RENDER in the args stands for a finished export of the jam track that alice asked for.
RENDER = "render"
TRACK_URLS = [
    ("tracks:detail", [], "get", OK, OK, OK, OK),
    ("tracks:row", [], "get", OK, OK, OK, OK),
    ("tracks:panel", [], "get", OK, OK, OK, OK),
    ("tracks:audio", ["original"], "get", OK, HIDDEN, HIDDEN, OK),
    ("tracks:audio", ["instrumental"], "get", OK, OK, OK, OK),
    ("tracks:audio", ["vocals"], "get", OK, HIDDEN, HIDDEN, OK),
    ("tracks:download", ["instrumental"], "get", OK, OK, FORBIDDEN, OK),
    ("tracks:download", ["vocals"], "get", OK, HIDDEN, FORBIDDEN, OK),
    ("tracks:waveform", ["original"], "get", OK, HIDDEN, HIDDEN, OK),
    ("tracks:waveform", ["instrumental"], "get", OK, OK, OK, OK),
    ("tracks:waveform", ["vocals"], "get", OK, HIDDEN, HIDDEN, OK),
    ("tracks:peaks", ["original"], "get", OK, HIDDEN, HIDDEN, OK),
    ("tracks:peaks", ["instrumental"], "get", OK, OK, OK, OK),
    ("tracks:peaks", ["vocals"], "get", OK, HIDDEN, HIDDEN, OK),
    ("practice:stems_zip", [], "get", OK, OK, FORBIDDEN, OK),
    # Moderating exports nothing: an export spends worker time and storage.
    ("practice:exports", [], "get", OK, OK, FORBIDDEN, FORBIDDEN),
    ("practice:exports", [], "post", REDIRECT, REDIRECT, FORBIDDEN, FORBIDDEN),
    ("practice:status", [RENDER], "get", OK, OK, FORBIDDEN, FORBIDDEN),
    ("practice:download", [RENDER], "get", OK, OK, FORBIDDEN, FORBIDDEN),
    # Others take off their list only exports they asked for.
    ("practice:delete", [RENDER], "post", REDIRECT, HIDDEN, FORBIDDEN, FORBIDDEN),
    ("tracks:rename", [], "post", REDIRECT, FORBIDDEN, FORBIDDEN, FORBIDDEN),
    ("tracks:share", [], "post", REDIRECT, FORBIDDEN, FORBIDDEN, FORBIDDEN),
    ("tracks:link_create", [], "post", REDIRECT, FORBIDDEN, FORBIDDEN, FORBIDDEN),
    ("tracks:report", [], "post", REDIRECT, REDIRECT, REDIRECT, REDIRECT),
    ("separation:retry", [], "post", REDIRECT, FORBIDDEN, FORBIDDEN, FORBIDDEN),
    ("separation:cancel", [], "post", REDIRECT, FORBIDDEN, FORBIDDEN, FORBIDDEN),
    ("imports:retry", [], "post", REDIRECT, FORBIDDEN, FORBIDDEN, FORBIDDEN),
    ("imports:cancel", [], "post", REDIRECT, FORBIDDEN, FORBIDDEN, FORBIDDEN),
    ("tracks:delete", [], "post", REDIRECT, FORBIDDEN, FORBIDDEN, FORBIDDEN),
]


def expected(row, who):
    *_, owner, bandmate, viewer, moderator = row
    return {
        "owner": owner,
        "band_admin": bandmate,
        "bandmate": bandmate,
        "viewer": viewer,
        "moderator": moderator,
    }.get(who, OUT.get(who))


CASES = [(row, who) for row in TRACK_URLS for who in WHO]
IDS = [f"{row[0]}{'-' + row[1][0] if row[1] else ''}-{who}" for row, who in CASES]


@pytest.fixture
def people(db, alice, bob, moderator, staff, password):
    make = User.objects.create_user
    return {
        "owner": alice,
        "band_admin": make("dave", "dave@example.com", password),
        "bandmate": bob,
        "viewer": make("vera", "vera@example.com", password),
        "former": make("erin", "erin@example.com", password),
        "other": make("carol", "carol@example.com", password),
        "staff": staff,
        "suspended": make("fred", "fred@example.com", password),
        "moderator": moderator,
    }


@pytest.fixture
def band(people):
    band = make_band(
        owner=people["owner"],
        name="The Cats",
        admins=[people["band_admin"]],
        members=[people["bandmate"], people["viewer"], people["former"], people["suspended"]],
    )
    Membership.objects.filter(band=band, user=people["former"]).delete()  # erin left
    viewer = Membership.objects.filter(band=band, user=people["viewer"])
    viewer.update(role=Membership.Role.VIEWER)
    return band


@pytest.fixture
def track(people, band, tmp_path, fake_engine):
    track = make_track(
        owner=people["owner"], tmp_path=tmp_path, title="Alice's song", separated=True
    )
    track_share(track=track, by=people["owner"], band_ids=[band.id], scope="jam")
    return track


@pytest.fixture
def render(people, track, tmp_path):
    """A finished export of the jam track (balance 0, WAV), asked for by alice."""
    path = fakes.write_wav(tmp_path / "render.wav", seconds=0.5)
    stored = track_store_rendition(track_id=track.id, settings_slug="mix-v0", fmt="wav", path=path)
    asset = track_record_rendition(track_id=track.id, output=stored, parameters={})
    render = Render.objects.create(
        track=track, source=MIX, format="wav", status=Render.Status.DONE, asset=asset
    )
    render.requesters.add(people["owner"])
    return render


@pytest.fixture
def clients(client, people, track):
    made = {"anonymous": client}
    for who, user in people.items():
        made[who] = Client()
        made[who].force_login(user)
    suspended = people["suspended"]
    suspended.is_active = False  # suspended after logging in: the session logs nobody in
    suspended.save(update_fields=("is_active",))
    return made


# What every POST sends: the fields of a rename, a report, a share (no band) and an export
# of the jam track at the settings of `render` (the same file, not made again).
POSTED = {"title": "Renamed", "reason": "spam", "band": []}
POSTED |= {"source": MIX, "balance": "0", "tempo": "1", "semitones": "0", "format": "wav"}


def call(client, method, url):
    if method == "post":
        return client.post(url, POSTED)
    response = client.get(url)
    if hasattr(response, "streaming_content"):
        b"".join(response.streaming_content)
    return response


def check(response, outcome):
    if outcome == LOG_IN:
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("login"))
    else:
        assert response.status_code == outcome


@pytest.mark.parametrize(("row", "who"), CASES, ids=IDS)
def test_each_person_gets_what_the_access_rule_allows(clients, track, render, row, who):
    name, args, method, *_ = row
    args = [render.id if arg == RENDER else arg for arg in args]
    response = call(clients[who], method, reverse(name, args=[track.id, *args]))
    outcome = expected(row, who)
    check(response, outcome)
    if who != "owner":
        track.refresh_from_db()  # nothing of the owner's changed: not renamed, deleted, shared
        assert track.title == "Alice's song"
        assert track.job.status == "done"
        assert list(track.shares.values_list("band__name", flat=True)) == ["The Cats"]
        assert not track.share_links.exists()
    reported = Report.objects.filter(track=track).exists()
    assert reported == (name == "tracks:report" and who in ("band_admin", "bandmate", "viewer"))
    render_kept = Render.objects.filter(pk=render.pk).exists()
    assert render_kept == (who != "owner" or name not in ("practice:delete", "tracks:delete"))


# --- Pages that are about a band, not a track -----------------------------------------------
BAND_URLS = [("tracks:band_library", OK), ("bands:detail", OK)]
BAND_CASES = [(name, members_get, who) for name, members_get in BAND_URLS for who in WHO]


@pytest.mark.parametrize(
    ("name", "members_get", "who"), BAND_CASES, ids=[f"{n}-{w}" for n, _, w in BAND_CASES]
)
def test_a_bands_pages_are_for_its_members(clients, band, track, name, members_get, who):
    response = call(clients[who], "get", reverse(name, args=[band.id]))
    members = ("owner", "band_admin", "bandmate", "viewer")
    check(response, members_get if who in members else OUT.get(who, HIDDEN))
    if who in members and name == "tracks:band_library":
        assert "Alice&#x27;s song" in response.content.decode()


# --- The moderation console in the admin (tracks/console.py) -------------------------------
# Moderators only. Anyone not staff (or whose session no longer logs in) is sent to the
# admin's login; staff without the moderator permission are refused (403). POSTs carry a
# reason ("spam"): hide, unhide and dismiss act at once (302 back to the review page); remove
# and suspend first answer with their confirmation page (200), and change nothing.
ADMIN_LOG_IN = "admin log in"
CONSOLE_URLS = [
    ("admin:tracks_report_queue", [], "get", OK),
    ("admin:tracks_report_review", [], "get", OK),
    ("admin:tracks_report_act", ["hide"], "post", REDIRECT),
    ("admin:tracks_report_act", ["unhide"], "post", REDIRECT),
    ("admin:tracks_report_act", ["dismiss"], "post", REDIRECT),
    ("admin:tracks_report_act", ["remove"], "post", OK),
    ("admin:tracks_report_act", ["suspend"], "post", OK),
]
CONSOLE_CASES = [(row, who) for row in CONSOLE_URLS for who in WHO]


def console_expected(row, who):
    if who == "moderator":
        return row[3]
    return FORBIDDEN if who == "staff" else ADMIN_LOG_IN


@pytest.mark.parametrize(
    ("row", "who"),
    CONSOLE_CASES,
    ids=[f"{row[0]}{'-' + row[1][0] if row[1] else ''}-{who}" for row, who in CONSOLE_CASES],
)
def test_each_person_gets_what_the_console_allows(clients, track, people, row, who):
    from audit.models import AuditEntry

    name, args, method, _ = row
    Report.objects.create(
        track=track,
        track_ref=track.id,
        track_title=track.title,
        track_owner=people["owner"],
        reporter=people["bandmate"],
        reason="spam",
    )
    url_args = [] if name == "admin:tracks_report_queue" else [track.id, *args]
    response = call(clients[who], method, reverse(name, args=url_args))
    outcome = console_expected(row, who)
    if outcome == ADMIN_LOG_IN:
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("admin:login"))
    else:
        check(response, outcome)
    track.refresh_from_db()
    acted = who == "moderator" and args and args[0] in ("hide", "dismiss")
    assert AuditEntry.objects.exists() == bool(acted)
    assert track.is_hidden == (who == "moderator" and args == ["hide"])
    assert Track.objects.filter(pk=track.pk).exists()  # removing waits for its confirmation
    assert User.objects.get(pk=people["owner"].pk).is_active  # so does suspending


@pytest.mark.parametrize("who", WHO)
def test_the_admins_front_page_is_the_queue_for_moderators_only(clients, who):
    response = clients[who].get(reverse("admin:index"))
    if who == "moderator":
        assert response.status_code == 200
        assert "Reports to review" in response.content.decode()
    elif who == "staff":
        assert response.status_code == 200
        assert "Reports to review" not in response.content.decode()
    else:
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("admin:login"))


# --- Share links: anyone holding one, logged in or not ---------------------------------------
LINK_URLS = [
    ("tracks:link", [], OK),
    ("tracks:link_audio", ["instrumental"], OK),
    ("tracks:link_download", ["instrumental"], OK),
    ("tracks:link_waveform", ["instrumental"], OK),
    ("tracks:link_peaks", ["instrumental"], OK),
    ("tracks:link_peaks", ["vocals"], HIDDEN),
    ("tracks:link_audio", ["vocals"], HIDDEN),
    ("tracks:link_download", ["vocals"], HIDDEN),
    ("tracks:link_audio", ["original"], HIDDEN),
]


@pytest.mark.parametrize(("name", "args", "outcome"), LINK_URLS)
@pytest.mark.parametrize("who", ["anonymous", "other"])
def test_a_share_link_opens_the_jam_track_and_nothing_else(
    clients, track, people, name, args, outcome, who
):
    _, token = share_link_create(track=track, by=people["owner"], expires_in_days=7)
    check(call(clients[who], "get", reverse(name, args=[token, *args])), outcome)


@pytest.mark.parametrize(("name", "args", "outcome"), LINK_URLS)
def test_a_revoked_link_opens_nothing(clients, track, people, name, args, outcome):
    link, token = share_link_create(track=track, by=people["owner"], expires_in_days=None)
    share_link_revoke(link=link, by=people["owner"])
    check(call(clients["anonymous"], "get", reverse(name, args=[token, *args])), HIDDEN)


def test_a_made_up_link_looks_like_a_revoked_one(clients, track, people):
    link, token = share_link_create(track=track, by=people["owner"], expires_in_days=None)
    share_link_revoke(link=link, by=people["owner"])
    revoked = clients["anonymous"].get(reverse("tracks:link", args=[token]))
    made_up = clients["anonymous"].get(reverse("tracks:link", args=["x" * 32]))
    assert revoked.status_code == made_up.status_code == 404
    assert revoked.content == made_up.content


@pytest.mark.parametrize("who", ["other", "former", "staff"])
def test_an_outsider_cannot_tell_a_track_from_one_that_does_not_exist(clients, track, who):
    real = clients[who].get(reverse("tracks:detail", args=[track.id]))
    nowhere = "00000000-0000-0000-0000-000000000000"
    made_up = clients[who].get(reverse("tracks:detail", args=[nowhere]))
    assert real.status_code == made_up.status_code == 404
    # The same page, byte for byte, but for the CSRF token of the log-out form (masked
    # afresh, at random, on every page).
    assert unmasked(real.content) == unmasked(made_up.content)


def unmasked(page: bytes) -> bytes:
    return re.sub(rb'name="csrfmiddlewaretoken" value="[^"]+"', b"csrf", page)


# --- Live events: who hears that the track's separation changed -----------------------------
# A viewer may play the track, so she hears of it too.
HEARS = {"owner": True, "band_admin": True, "bandmate": True, "viewer": True}
HEARS.update(former=False, other=False)
HEARS.update(staff=False, moderator=False)


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(("who", "hears"), HEARS.items())
async def test_a_job_event_reaches_exactly_the_tracks_audience(people, track, settings, who, hears):
    settings.NOTIFICATIONS_RELAY_FROM_DB = False
    job_id = await database_sync_to_async(lambda: track.job.id)()
    client = Client()
    await database_sync_to_async(client.force_login)(people[who])
    communicator = WebsocketCommunicator(
        application,
        "/ws/notifications/",
        headers=[
            (b"origin", b"http://localhost"),
            (b"host", b"localhost"),
            (b"cookie", f"sessionid={client.cookies['sessionid'].value}".encode()),
        ],
    )
    assert (await communicator.connect())[0]
    try:
        await sync_to_async(job_publish)(job_id=job_id)
        if hears:
            event = await communicator.receive_json_from(timeout=2)
            assert (event["type"], event["track_id"]) == ("separation.done", str(track.id))
        else:
            assert await heard_before_a_sentinel(communicator, people[who].id) == []
    finally:
        await communicator.disconnect()


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("who", ["anonymous", "suspended"])
async def test_no_socket_opens_for_someone_not_logged_in(people, track, who):
    headers = [(b"origin", b"http://localhost"), (b"host", b"localhost")]
    if who == "suspended":
        client = Client()
        await database_sync_to_async(client.force_login)(people[who])
        user = people[who]
        user.is_active = False
        await database_sync_to_async(user.save)()
        headers.append((b"cookie", f"sessionid={client.cookies['sessionid'].value}".encode()))
    communicator = WebsocketCommunicator(application, "/ws/notifications/", headers=headers)
    connected, _ = await communicator.connect()
    assert not connected
    await communicator.disconnect()


# --- The same track in other states -------------------------------------------------------
PARTS = [
    ("audio", "original"),
    ("audio", "instrumental"),
    ("audio", "vocals"),
    ("download", "instrumental"),
    ("download", "vocals"),
    ("waveform", "original"),
    ("waveform", "instrumental"),
    ("peaks", "vocals"),
]


def test_in_the_every_part_scope_bandmates_and_links_hear_every_part(clients, track, people):
    track_share(
        track=track,
        by=people["owner"],
        band_ids=list(track.shares.values_list("band_id", flat=True)),
        scope="all",
    )
    _, token = share_link_create(track=track, by=people["owner"], expires_in_days=None, scope="all")
    for what, part in PARTS:
        for who in ("bandmate", "band_admin", "viewer"):
            response = call(clients[who], "get", reverse(f"tracks:{what}", args=[track.id, part]))
            check(response, FORBIDDEN if who == "viewer" and what == "download" else OK)
        link_url = reverse(f"tracks:link_{what}", args=[token, part])
        check(call(clients["anonymous"], "get", link_url), OK)


@pytest.mark.parametrize("state", ["hidden", "owner suspended"])
def test_a_hidden_track_or_a_suspended_owner_leaves_only_moderators(clients, track, people, state):
    _, token = share_link_create(track=track, by=people["owner"], expires_in_days=None)
    if state == "hidden":
        Track.objects.filter(pk=track.pk).update(hidden_at=timezone.now())
    else:
        User.objects.filter(pk=people["owner"].pk).update(is_active=False)
    for what, part in PARTS:
        url = reverse(f"tracks:{what}", args=[track.id, part])
        for who in ("bandmate", "band_admin", "viewer"):
            check(call(clients[who], "get", url), HIDDEN)
        check(call(clients["moderator"], "get", url), OK)
        check(
            call(clients["anonymous"], "get", reverse(f"tracks:link_{what}", args=[token, part])),
            HIDDEN,
        )
    for name in ("tracks:detail", "tracks:row", "tracks:panel"):
        check(call(clients["bandmate"], "get", reverse(name, args=[track.id])), HIDDEN)
    shared = clients["bandmate"].get(reverse("tracks:shared")).content.decode()
    assert str(track.id) not in shared


def test_an_expired_link_opens_nothing(clients, track, people):
    link, token = share_link_create(track=track, by=people["owner"], expires_in_days=1)
    ShareLink.objects.filter(pk=link.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    for what, part in PARTS:
        url = reverse(f"tracks:link_{what}", args=[token, part])
        check(call(clients["anonymous"], "get", url), HIDDEN)


def test_the_moderator_permission_without_staff_status_gives_nothing(clients, track, people):
    from django.contrib.auth.models import Permission

    user = people["other"]
    user.user_permissions.add(Permission.objects.get(codename="moderate_track"))
    client = Client()
    client.force_login(User.objects.get(pk=user.pk))
    check(call(client, "get", reverse("tracks:detail", args=[track.id])), HIDDEN)


# --- The rest of the house rules --------------------------------------------------------------
def test_a_moderator_sees_whose_track_it_is_and_no_owner_controls(clients, track):
    page = clients["moderator"].get(reverse("tracks:detail", args=[track.id])).content.decode()
    assert "by <bdi>alice</bdi>" in page
    assert reverse("tracks:rename", args=[track.id]) not in page
    assert reverse("tracks:delete", args=[track.id]) not in page
    assert reverse("tracks:share", args=[track.id]) not in page


def test_a_bandmate_sees_the_jam_track_and_no_owner_controls(clients, track):
    page = clients["bandmate"].get(reverse("tracks:detail", args=[track.id])).content.decode()
    assert reverse("tracks:audio", args=[track.id, "instrumental"]) in page
    assert reverse("tracks:audio", args=[track.id, "vocals"]) not in page
    assert reverse("tracks:share", args=[track.id]) not in page
    assert reverse("tracks:report", args=[track.id]) in page


def test_only_the_owners_and_shared_tracks_are_listed(clients, track, people, tmp_path):
    make_track(owner=people["other"], tmp_path=tmp_path, title="Carol's own")
    shared = clients["bandmate"].get(reverse("tracks:shared")).content.decode()
    assert "Alice&#x27;s song" in shared and "Carol&#x27;s own" not in shared
    mine = clients["moderator"].get(reverse("tracks:library")).content.decode()
    assert "Alice&#x27;s song" not in mine
    assert (
        "Alice&#x27;s song" not in clients["former"].get(reverse("tracks:shared")).content.decode()
    )


def test_a_viewer_gets_the_player_and_no_download_or_export(clients, track):
    page = clients["viewer"].get(reverse("tracks:detail", args=[track.id])).content.decode()
    assert reverse("tracks:audio", args=[track.id, "instrumental"]) in page
    assert "/download/" not in page and ".zip" not in page
    assert reverse("practice:exports", args=[track.id]) not in page  # no panel, no player slot
    assert "You may play it, not download or export it" in page
    assert reverse("tracks:report", args=[track.id]) in page
    row = clients["viewer"].get(reverse("tracks:row", args=[track.id])).content.decode()
    assert reverse("tracks:audio", args=[track.id, "instrumental"]) in row
    assert "/download/" not in row
    shared = clients["viewer"].get(reverse("tracks:shared")).content.decode()
    assert "Alice&#x27;s song" in shared and "/download/" not in shared


def test_a_bandmate_sees_the_download_links_and_the_export_panel(clients, track):
    page = clients["bandmate"].get(reverse("tracks:detail", args=[track.id])).content.decode()
    assert reverse("tracks:download", args=[track.id, "instrumental"]) in page
    assert reverse("practice:stems_zip", args=[track.id]) in page
    assert reverse("practice:exports", args=[track.id]) in page


def test_in_two_bands_the_role_that_downloads_counts(clients, band, track, people):
    other_band = make_band(owner=people["owner"], name="The Dogs", members=[people["viewer"]])
    url = reverse("tracks:download", args=[track.id, "instrumental"])
    check(call(clients["viewer"], "get", url), FORBIDDEN)
    band_ids = [band.id, other_band.id]
    track_share(track=track, by=people["owner"], band_ids=band_ids, scope="jam")
    check(call(clients["viewer"], "get", url), OK)


def test_hearing_every_part_as_a_viewer_downloads_only_what_a_band_that_downloads_shares(
    clients, band, track, people
):
    """Vera is a viewer where every part is shared and a member where only the jam track
    is: she hears the vocals, and downloads and exports the jam track alone."""
    vera, client = people["viewer"], clients["viewer"]
    dogs = make_band(owner=people["owner"], name="The Dogs", members=[vera])
    TrackShare.objects.filter(track=track, band=band).update(scope="all")
    TrackShare.objects.create(track=track, band=dogs, scope="jam")

    access = track_access(vera, track)
    assert access.can_hear("vocals") and access.can_download_part("instrumental")
    assert not access.can_download_part("vocals")
    check(call(client, "get", reverse("tracks:audio", args=[track.id, "vocals"])), OK)
    check(call(client, "get", reverse("tracks:download", args=[track.id, "vocals"])), FORBIDDEN)
    check(call(client, "get", reverse("tracks:download", args=[track.id, "instrumental"])), OK)
    zipped = client.get(reverse("practice:stems_zip", args=[track.id]))
    names = zipfile.ZipFile(io.BytesIO(b"".join(zipped.streaming_content))).namelist()
    assert [name for name in names if "vocals" in name] == []
    assert len(names) == 1
    exports = reverse("practice:exports", args=[track.id])
    with_vocals = client.post(exports, {**POSTED, "balance": "0.5"}, HTTP_ACCEPT="application/json")
    assert with_vocals.status_code == 403
    assert client.post(exports, POSTED, HTTP_ACCEPT="application/json").status_code == 202
    page = client.get(reverse("tracks:detail", args=[track.id])).content.decode()
    assert reverse("tracks:download", args=[track.id, "instrumental"]) in page
    assert reverse("tracks:download", args=[track.id, "vocals"]) not in page


def test_a_download_in_progress_stops_when_its_member_is_made_a_viewer(track, people):
    bob = people["bandmate"]
    parts = ["instrumental"]
    downloading = still_allowed(user_id=bob.pk, track_id=track.id, need=Need.DOWNLOAD, parts=parts)
    playing = still_allowed(user_id=bob.pk, track_id=track.id, need=Need.PLAY, parts=parts)
    assert downloading() and playing()
    Membership.objects.filter(user=bob).update(role=Membership.Role.VIEWER)
    assert not downloading()
    assert playing()


@pytest.mark.parametrize("name", ["tracks:shared", "separation:upload"])
def test_anonymous_is_sent_to_log_in_from_pages_without_a_track(client, db, name):
    response = client.get(reverse(name))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_anonymous_at_the_library_address_gets_the_front_page_and_no_library(client, track):
    response = client.get(reverse("tracks:library"))
    assert response.status_code == 200
    page = response.content.decode()
    assert "Take the vocals out of any song" in page
    assert "Alice&#x27;s song" not in page and str(track.id) not in page


def test_an_unknown_media_kind_is_a_404(clients, track):
    owner = clients["owner"]
    assert owner.get(reverse("tracks:audio", args=[track.id, "drums"])).status_code == 404
    assert owner.get(reverse("tracks:download", args=[track.id, "original"])).status_code == 404


def test_stems_of_an_unseparated_track_are_a_404(alice_client, alice, tmp_path):
    track = make_track(owner=alice, tmp_path=tmp_path, separated=False)
    audio = alice_client.get(reverse("tracks:audio", args=[track.id, "instrumental"]))
    waveform = alice_client.get(reverse("tracks:waveform", args=[track.id, "vocals"]))
    assert audio.status_code == waveform.status_code == 404


def test_a_page_of_tracks_gets_the_access_each_would_get_alone(track, people, tmp_path):
    from tracks.access import track_access, track_access_many

    unshared = make_track(owner=people["owner"], tmp_path=tmp_path, title="Alice's other")
    bobs = make_track(owner=people["bandmate"], tmp_path=tmp_path, title="Bob's own")
    tracks = list(
        Track.objects.select_related("owner").filter(id__in=[t.id for t in (track, unshared, bobs)])
    )
    for who, user in people.items():
        alone = [(t, track_access(user, t)) for t in tracks]
        assert track_access_many(user, tracks) == alone, who
