"""Exports from end to end: asked for through the view, a Render row, made by the real worker
command with the real Rubber Band, downloaded and measured; the cache, the access rule, the
limits, the quota and deletion with the track."""

import io
import socket
import subprocess
import sys
import zipfile
from datetime import timedelta
from pathlib import Path
from urllib.parse import quote

import numpy as np
import pytest
import soundfile as sf
from django.core.files.storage import default_storage
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from catalog.formats import EXPORT_FORMAT_LABELS
from practice.events import render_events_changed_since
from practice.models import Render
from tests.factories import make_band, make_track
from tests.practice.measure import fundamental_hz
from tracks.models import Asset, FileDeletion, TrackShare
from tracks.selectors import storage_use_for_user
from tracks.services import track_delete
from tracks.sharing import track_share

# The worker calls close_old_connections(): these tests commit for real.
pytestmark = pytest.mark.django_db(transaction=True)
JSON = {"HTTP_ACCEPT": "application/json"}
SECONDS = 4.0
# Real music: two loops and a singer, 16 s of 44.1 kHz stereo (tests/data/AUDIO.md).
SONG = Path(__file__).resolve().parents[1] / "data" / "dev1_vocadito10_loops" / "mix.flac"


@pytest.fixture
def track(alice, tmp_path, fake_engine):
    """A separated 4 s song of a 440 Hz tone (the fake engine halves it into each stem; the
    separation engine is not what these tests are about — the renders are all real)."""
    return make_track(owner=alice, tmp_path=tmp_path, separated=True, seconds=SECONDS)


def ask(client, track, **fields):
    return client.post(reverse("practice:exports", args=[track.id]), fields, **JSON)


def body(response) -> bytes:
    return b"".join(response.streaming_content)


def work():
    call_command("separation_worker", "--once")


def test_an_export_is_asked_for_made_by_the_worker_and_downloads_at_the_asked_tempo_and_key(
    alice_client, alice, track
):
    response = ask(alice_client, track, balance="0.1", tempo="0.75", semitones="2", format="flac")
    assert response.status_code == 202, response.content
    state = response.json()
    render = Render.objects.get(id=state["id"])
    assert (render.source, render.balance, render.tempo, render.semitones, render.format) == (
        "mix",
        10,
        75,
        2,
        "flac",
    )
    assert state["status"] == "queued" and state["download_url"] == ""
    assert list(render.requesters.all()) == [alice]

    work()

    render.refresh_from_db()
    assert render.status == Render.Status.DONE, render.error
    assert render.progress == 100
    assert render.asset.kind == Asset.Kind.RENDITION
    assert render.asset.parameters["tempo"] == 75
    state = alice_client.get(reverse("practice:status", args=[track.id, render.id])).json()
    assert state["status"] == "done"
    response = alice_client.get(state["download_url"])
    assert response.status_code == 200
    assert response["Content-Type"] == "audio/flac"
    assert response["Content-Disposition"].endswith(' - mix-v10-t75-k+2.flac"')
    data, rate = sf.read(io.BytesIO(body(response)), dtype="float32", always_2d=True)
    length = len(data) / rate
    rise = fundamental_hz(data, rate) / 440.0
    message = (
        f"export at 75 % tempo, +2 semitones: {length:.3f} s (want {SECONDS / 0.75:.3f}), "
        f"pitch x{rise:.4f} (want {2 ** (2 / 12):.4f})"
    )
    print(message)
    assert abs(length - SECONDS / 0.75) <= 0.01 * SECONDS / 0.75, message
    assert abs(rise - 2 ** (2 / 12)) <= 0.01 * 2 ** (2 / 12), message


def test_the_same_settings_are_the_same_file_and_are_not_rendered_again(
    alice_client, bob, bob_client, alice, track
):
    first = ask(alice_client, track, tempo="0.8", format="mp3").json()
    work()
    made = Render.objects.get(id=first["id"]).asset_id
    again = ask(alice_client, track, tempo="0.80", format="MP3")
    assert again.status_code == 200
    assert again.json()["id"] == first["id"]
    assert again.json()["download_url"]
    # A bandmate with the same settings gets the same file, at once.
    band = make_band(owner=alice, members=[bob])
    TrackShare.objects.create(track=track, band=band)
    theirs = ask(bob_client, track, tempo="0.8", format="mp3")
    assert theirs.status_code == 200 and theirs.json()["id"] == first["id"]
    work()
    assert Render.objects.count() == 1
    assert Asset.objects.filter(kind=Asset.Kind.RENDITION).count() == 1
    assert Render.objects.get(id=first["id"]).asset_id == made


def test_a_form_post_goes_back_to_the_track_page_which_lists_the_export(alice_client, track):
    url = reverse("practice:exports", args=[track.id])
    response = alice_client.post(url, {"balance": "0", "tempo": "0.9", "format": "wav"})
    assert response.status_code == 302
    assert response["Location"] == reverse("tracks:detail", args=[track.id]) + "#exports"
    page = alice_client.get(response["Location"]).content.decode()
    assert 'id="export-tempo"' in page and 'for="export-tempo"' in page
    assert "Export on its way: Mix, no vocals, tempo 90 %, WAV." in page
    render = Render.objects.get()
    assert f'data-render-id="{render.id}"' in page
    work()
    page = alice_client.get(reverse("tracks:detail", args=[track.id])).content.decode()
    assert reverse("practice:download", args=[track.id, render.id]) in page


def test_every_stem_exports_as_flac_and_mp3(alice_client, track):
    ids = [
        ask(alice_client, track, source=stem, format=fmt).json()["id"]
        for stem, fmt in (("vocals", "mp3"), ("instrumental", "flac"))
    ]
    work()
    for render_id, kind in zip(ids, ("MP3", "FLAC"), strict=True):
        render = Render.objects.get(id=render_id)
        assert render.status == Render.Status.DONE, render.error
        download = alice_client.get(reverse("practice:download", args=[track.id, render_id]))
        info = sf.info(io.BytesIO(body(download)))
        assert info.format == kind
        assert abs(info.duration - SECONDS) < 0.06


def test_a_stem_exports_as_ogg_vorbis_that_sounds_as_its_wav_export(
    alice, alice_client, tmp_path, fake_engine
):
    """The fake engine halves the real song into the vocals stem; both exports are real."""
    track = make_track(owner=alice, tmp_path=tmp_path, separated=True, source=SONG)
    ids = {
        fmt: ask(alice_client, track, source="vocals", format=fmt).json()["id"]
        for fmt in ("wav", "ogg")
    }
    work()
    decoded = {}
    for fmt, render_id in ids.items():
        render = Render.objects.get(id=render_id)
        assert render.status == Render.Status.DONE, render.error
        download = alice_client.get(reverse("practice:download", args=[track.id, render_id]))
        data = body(download)
        decoded[fmt] = sf.read(io.BytesIO(data), dtype="float64", always_2d=True)
    assert render.label == "Vocals, Ogg Vorbis"
    assert render.asset.name.endswith(".ogg") and ".ogg" in download["Content-Disposition"]
    assert download["Content-Type"] == "audio/ogg"
    assert (sf.info(io.BytesIO(data)).format, sf.info(io.BytesIO(data)).subtype) == (
        "OGG",
        "VORBIS",
    )
    (ogg, ogg_rate), (wav, wav_rate) = decoded["ogg"], decoded["wav"]
    assert ogg_rate == wav_rate == track.sample_rate == 44_100
    assert ogg.shape == wav.shape == (round(track.duration_s * 44_100), 2)  # to the sample
    # Lossy, so compared as a waveform to the WAV of the same render: Vorbis at quality 0.8
    # measures about 32 dB here, sample-aligned. 20 dB still fails a level off by 1 dB
    # (18 dB by itself), a shift of one frame block (a correlation near 0) or another part.
    for channel in range(2):
        noise = np.sum((ogg[:, channel] - wav[:, channel]) ** 2)
        snr_db = 10 * np.log10(np.sum(wav[:, channel] ** 2) / noise)
        print(f"Ogg Vorbis against WAV, channel {channel}: {snr_db:.1f} dB")
        assert snr_db > 20


def test_the_format_is_one_of_the_registrys_and_ogg_vorbis_is_one(alice_client, track):
    refused = ask(alice_client, track, format="opus")
    assert refused.status_code == 400
    assert refused.json()["error"] == "The format must be WAV, FLAC, MP3 or Ogg Vorbis."
    accepted = ask(alice_client, track, format="OGG")
    assert accepted.status_code == 202
    assert Render.objects.get().format == "ogg"


def test_all_stems_download_as_one_streamed_zip(alice_client, track):
    response = alice_client.get(reverse("practice:stems_zip", args=[track.id]))
    assert response.status_code == 200
    assert response.streaming
    assert response["Content-Type"] == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(body(response)))
    assert response["Content-Disposition"] == 'attachment; filename="Song - stems.zip"'
    assert sorted(archive.namelist()) == ["Song - instrumental.wav", "Song - vocals.wav"]
    for stem in ("instrumental", "vocals"):
        with default_storage.open(track.asset(Asset.Kind.STEM, stem).name, "rb") as stored:
            assert archive.read(f"Song - {stem}.wav") == stored.read()


def test_a_stems_zip_keeps_a_japanese_title_whole_in_its_name_and_entries(
    alice_client, alice, tmp_path, fake_engine
):
    track = make_track(owner=alice, tmp_path=tmp_path, title="夜のドライブ", separated=True)
    response = alice_client.get(reverse("practice:stems_zip", args=[track.id]))
    assert response["Content-Disposition"] == (
        "attachment; filename=\"track-stems.zip\"; filename*=utf-8''"
        + quote("夜のドライブ - stems.zip")
    )
    archive = zipfile.ZipFile(io.BytesIO(body(response)))
    names = sorted(archive.namelist())
    assert names == ["夜のドライブ - instrumental.wav", "夜のドライブ - vocals.wav"]


@pytest.mark.parametrize(
    ("taken_away", "then"),
    [("the whole track", {"band_ids": []}), ("the vocals", {"scope": "jam"})],
)
def test_a_stems_zip_in_progress_stops_when_access_to_what_it_holds_is_taken_away(
    alice, bob, bob_client, track, monkeypatch, taken_away, then
):
    from practice import zipstream
    from tracks import media

    monkeypatch.setattr(zipstream, "CHUNK", 1024)
    monkeypatch.setattr(media, "ACCESS_RECHECK_S", 0.0)  # ask again before every chunk
    band = make_band(owner=alice, members=[bob])
    shared = {"band_ids": [band.id], "scope": "all"}
    track_share(track=track, by=alice, **shared)
    url = reverse("practice:stems_zip", args=[track.id])
    whole = body(bob_client.get(url))  # asked before every chunk, and allowed every time
    assert sorted(zipfile.ZipFile(io.BytesIO(whole)).namelist()) == [
        "Song - instrumental.wav",
        "Song - vocals.wav",
    ]

    response = bob_client.get(url)
    chunks = iter(response.streaming_content)
    received = len(next(chunks)) + len(next(chunks))  # a header and 2 KiB of the first stem
    track_share(track=track, by=alice, **(shared | then))
    received += sum(len(chunk) for chunk in chunks)

    assert received < 3 * 1024 < len(whole)


@pytest.mark.parametrize("taken_away", ["the export deleted", "the track unshared"])
def test_an_export_download_in_progress_stops_when_the_export_or_access_to_it_goes(
    alice, alice_client, bob, bob_client, track, monkeypatch, taken_away
):
    from tracks import media

    monkeypatch.setattr(media, "CHUNK", 1024)
    monkeypatch.setattr(media, "ACCESS_RECHECK_S", 0.0)  # ask again before every chunk
    band = make_band(owner=alice, members=[bob])
    track_share(track=track, by=alice, band_ids=[band.id], scope="jam")
    render_id = ask(bob_client, track, tempo="0.9", format="wav").json()["id"]
    work()
    url = reverse("practice:download", args=[track.id, render_id])
    whole = body(bob_client.get(url))  # asked before every chunk, and allowed every time

    chunks = iter(bob_client.get(url).streaming_content)
    received = len(next(chunks)) + len(next(chunks))
    if taken_away == "the export deleted":
        deleted = alice_client.post(reverse("practice:delete", args=[track.id, render_id]))
        assert deleted.status_code == 302
    else:
        track_share(track=track, by=alice, band_ids=[], scope="jam")
    received += sum(len(chunk) for chunk in chunks)

    assert received <= 3 * 1024 < len(whole)


def test_a_stems_zip_in_progress_under_asgi_stops_when_the_track_is_unshared(
    alice, bob, track, monkeypatch
):
    from asgiref.sync import async_to_sync, sync_to_async
    from django.test import AsyncClient

    from practice import zipstream
    from tracks import media

    monkeypatch.setattr(zipstream, "CHUNK", 1024)
    monkeypatch.setattr(media, "ACCESS_RECHECK_S", 0.0)  # ask again before every chunk
    band = make_band(owner=alice, members=[bob])
    track_share(track=track, by=alice, band_ids=[band.id], scope="jam")
    client = AsyncClient()
    client.force_login(bob)
    url = reverse("practice:stems_zip", args=[track.id])

    async def read(*, unshare_after: float) -> int:
        response = await client.get(url)
        received, unshared = 0, False
        async for chunk in response.streaming_content:
            received += len(chunk)
            if received >= unshare_after and not unshared:
                unshare = sync_to_async(track_share)
                await unshare(track=track, by=alice, band_ids=[], scope="jam")
                unshared = True
        return received

    whole = async_to_sync(read)(unshare_after=float("inf"))
    assert async_to_sync(read)(unshare_after=2048) < 3 * 1024 < whole


def test_an_outsider_gets_404_for_every_export_url(alice_client, bob_client, track):
    anonymous = Client()
    mine = ask(alice_client, track).json()["id"]
    work()
    urls = [
        reverse("practice:exports", args=[track.id]),
        reverse("practice:status", args=[track.id, mine]),
        reverse("practice:download", args=[track.id, mine]),
        reverse("practice:stems_zip", args=[track.id]),
    ]
    for url in urls:
        assert bob_client.get(url).status_code == 404, url
        assert anonymous.get(url).status_code == 302, url  # to the sign-in page
    assert bob_client.post(urls[0], {"format": "wav"}).status_code == 404
    assert Render.objects.count() == 1


def test_a_jam_listener_can_never_export_the_vocals(alice, bob, bob_client, alice_client, track):
    band = make_band(owner=alice, members=[bob])
    TrackShare.objects.create(track=track, band=band)  # without the vocals
    with_vocals = ask(alice_client, track, balance="0.5").json()["id"]
    vocals = ask(alice_client, track, source="vocals").json()["id"]
    work()

    refused = ask(bob_client, track, balance="0.1")
    assert refused.status_code == 403
    assert "with the balance at 0" in refused.json()["error"]
    assert ask(bob_client, track, source="vocals").status_code == 403
    for render_id in (with_vocals, vocals):
        for name in ("status", "download"):
            url = reverse(f"practice:{name}", args=[track.id, render_id])
            assert bob_client.get(url).status_code == 404
    page = bob_client.get(reverse("tracks:detail", args=[track.id])).content.decode()
    assert 'name="balance" value="0"' in page and 'id="export-balance"' not in page
    archive = zipfile.ZipFile(
        io.BytesIO(body(bob_client.get(reverse("practice:stems_zip", args=[track.id]))))
    )
    assert archive.namelist() == ["Song - instrumental.wav"]

    allowed = ask(bob_client, track, balance="0", tempo="0.9")
    assert allowed.status_code == 202
    work()
    state = bob_client.get(allowed.json()["status_url"]).json()
    assert state["status"] == "done"
    assert bob_client.get(state["download_url"]).status_code == 200


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"tempo": "2"}, "The tempo is out of range: from 0.5 to 1.5."),
        ({"tempo": "fast"}, "The tempo must be a number"),
        ({"balance": "-0.1"}, "The balance is out of range: from 0 to 1."),
        ({"semitones": "1.5"}, "The key moves in whole semitones"),
        ({"semitones": "9"}, "The key is out of range"),
        ({"format": "opus"}, f"The format must be {EXPORT_FORMAT_LABELS}."),
        ({"source": "drums"}, "There is nothing called “drums” to export."),
        ({"tempo": "nan"}, "The tempo is out of range"),
    ],
)
def test_bad_settings_are_refused_with_a_clear_message(alice_client, track, fields, message):
    response = ask(alice_client, track, **fields)
    assert response.status_code == 400
    assert response.json()["error"].startswith(message)
    assert not Render.objects.exists()


def test_a_user_may_have_only_a_few_exports_on_the_way(alice_client, track, settings):
    settings.JAM_USER_MAX_ACTIVE_RENDERS = 1
    assert ask(alice_client, track, tempo="0.9").status_code == 202
    assert ask(alice_client, track, tempo="0.9").status_code == 202  # the same one again
    refused = ask(alice_client, track, tempo="0.8")
    assert refused.status_code == 400
    assert "You already have 1 export being made (the limit is 1)" in refused.json()["error"]
    work()
    assert ask(alice_client, track, tempo="0.8").status_code == 202


def test_an_export_longer_than_the_limit_is_refused(alice_client, track, settings):
    settings.JAM_RENDER_MAX_DURATION_S = 7
    refused = ask(alice_client, track, tempo="0.5")
    assert refused.status_code == 400
    assert "would last 0.1 minutes; exports may last at most" in refused.json()["error"]
    assert ask(alice_client, track, tempo="0.6").status_code == 202  # 6.7 s


def test_an_export_counts_in_the_owners_quota_and_a_full_library_refuses_more(
    alice, alice_client, track, settings
):
    before = storage_use_for_user(user_id=alice.pk).used_bytes
    ask(alice_client, track, format="wav")
    work()
    size = Render.objects.get().asset.size_bytes
    assert size > SECONDS * 44100 * 2 * 3  # 24-bit stereo
    assert storage_use_for_user(user_id=alice.pk).used_bytes == before + size
    settings.JAM_USER_QUOTA_BYTES = before + size + 1000
    refused = ask(alice_client, track, format="wav", tempo="0.5")
    assert refused.status_code == 400
    assert "Your library has no room for this export" in refused.json()["error"]


def test_exports_are_deleted_with_their_track(alice_client, track):
    ask(alice_client, track, format="mp3", semitones="-3")
    work()
    name = Render.objects.get().asset.name
    assert default_storage.exists(name)
    track_delete(track=track)
    assert not default_storage.exists(name)
    assert not Render.objects.exists()
    assert not FileDeletion.objects.exists()


def test_the_requester_hears_of_progress_and_the_download_through_the_relay(
    alice, alice_client, track
):
    since = timezone.now() - timedelta(seconds=1)
    render_id = ask(alice_client, track, tempo="1.25").json()["id"]
    work()
    events, _ = render_events_changed_since(frozenset({alice.pk}), since)
    mine = [event for event in events if event["render_id"] == render_id]
    assert mine[-1]["type"] == "practice.done"
    assert mine[-1]["download_url"] == reverse("practice:download", args=[track.id, render_id])
    assert "is ready" in mine[-1]["message"]
    assert mine[-1]["audience"] == [alice.pk]


def test_a_render_left_running_by_a_dead_worker_is_taken_back_and_made(
    alice_client, track, settings
):
    render_id = ask(alice_client, track, semitones="1").json()["id"]
    stale = timezone.now() - timedelta(seconds=settings.RENDER_STALE_AFTER_S + 5)
    Render.objects.filter(id=render_id).update(
        status=Render.Status.RUNNING, claimed_by="elsewhere:1:dead", heartbeat_at=stale, attempts=1
    )
    work()
    render = Render.objects.get(id=render_id)
    assert render.status == Render.Status.DONE
    assert render.attempts == 2


def test_a_render_whose_worker_process_died_on_this_host_is_taken_back_without_waiting(
    alice_client, track
):
    """The embedded worker's restart (or a live worker beside it) finds the dead process at
    once, as for separations: no waiting for its heartbeat to go stale."""
    render_id = ask(alice_client, track, semitones="-1").json()["id"]
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    Render.objects.filter(id=render_id).update(
        status=Render.Status.RUNNING,
        claimed_by=f"{socket.gethostname()}:{dead.pid}:gone",
        heartbeat_at=timezone.now(),
        attempts=1,
    )
    work()
    render = Render.objects.get(id=render_id)
    assert (render.status, render.attempts) == (Render.Status.DONE, 2)


def test_a_failed_render_is_tried_again_when_asked_for_again(alice_client, track):
    render_id = ask(alice_client, track, tempo="1.1").json()["id"]
    stem = track.asset(Asset.Kind.STEM, "instrumental")
    default_storage.delete(stem.name)  # storage lost the stem under the worker
    work()
    render = Render.objects.get(id=render_id)
    assert render.status == Render.Status.FAILED
    assert render.error.startswith("Something went wrong")
    with open(default_storage.path(stem.name), "wb") as restored:
        sf.write(restored, np.zeros((44100, 2), dtype=np.float32), 44100, format="WAV")
    again = ask(alice_client, track, tempo="1.1")
    assert again.status_code == 202 and again.json()["status"] == "queued"
    work()
    assert Render.objects.get(id=render_id).status == Render.Status.DONE


def test_the_player_can_list_its_exports_of_a_track(alice_client, track):
    ids = [ask(alice_client, track, tempo=tempo).json()["id"] for tempo in ("0.7", "0.8")]
    listed = alice_client.get(reverse("practice:exports", args=[track.id])).json()["exports"]
    assert [item["id"] for item in listed] == ids[::-1]
    assert listed[0]["tempo"] == 0.8 and listed[0]["balance"] == 0.0


def test_progress_is_pushed_to_the_requester_while_the_render_runs(alice, alice_client, tmp_path):
    from asgiref.sync import async_to_sync
    from channels.layers import get_channel_layer

    from notifications.events import user_group
    from tests.sentinels import layer_heard_before_a_sentinel

    long_track = make_track(owner=alice, tmp_path=tmp_path, separated=True, seconds=30.0)
    layer = get_channel_layer()
    channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)(user_group(alice.pk), channel)
    ask(alice_client, long_track, tempo="0.5", format="flac")
    work()
    heard = async_to_sync(layer_heard_before_a_sentinel)(layer, channel)
    events = [m["event"] for m in heard if m["event"]["type"].startswith("practice.")]
    steps = [(event["status"], event["progress"]) for event in events]
    print(f"render progress pushed: {steps}")
    assert steps[0] == ("queued", 0)
    assert steps[-1] == ("done", 100)
    running = [progress for status, progress in steps if status == "running"]
    assert len([p for p in running if 10 < p < 90]) >= 3, steps  # moving during the stretch
    assert running == sorted(running)
