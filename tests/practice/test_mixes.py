"""A mix as per-stem gains: asked for with the player's `gain_<stem>` fields or the form's
balance, kept as one text so equal mixes are one row, rendered for real (the fake engine
separates, Rubber Band renders), refused where the access rule or sense says no, and
migrated from the old balance and back."""

import io

import numpy as np
import pytest
import soundfile as sf
from django.core.files.storage import default_storage
from django.core.management import call_command
from django.urls import reverse

from practice.dispatch import ExportForbidden, export_request, export_settings_parse
from practice.models import MIX, Render
from tests import fakes
from tests.factories import make_band, make_track
from tests.migrating import latest, migrate
from tracks.access import track_access
from tracks.models import Asset, FileDeletion, TrackShare
from tracks.services import track_record_rendition, track_store_rendition

# The worker calls close_old_connections(): these tests commit for real.
pytestmark = pytest.mark.django_db(transaction=True)
JSON = {"HTTP_ACCEPT": "application/json"}
SECONDS = 2.0
JAM_HZ, VOCALS_HZ = 440.0, 660.0


@pytest.fixture
def track(alice, tmp_path, fake_engine):
    """A separated song whose vocals sing another tone (660 Hz) than the jam track (440 Hz),
    so what a render holds can be heard in it."""
    track = make_track(owner=alice, tmp_path=tmp_path, separated=True, seconds=SECONDS)
    frames = np.arange(int(SECONDS * 44100)) / 44100
    tone = 0.3 * np.sin(2 * np.pi * VOCALS_HZ * frames)
    sung = tmp_path / "vocals.wav"
    sf.write(sung, np.stack([tone, tone], axis=1).astype(np.float32), 44100, subtype="PCM_16")
    name = track.asset(Asset.Kind.STEM, "vocals").name
    default_storage.delete(name)
    with open(sung, "rb") as handle:
        assert default_storage.save(name, handle) == name
    return track


def ask(client, track, **fields):
    return client.post(reverse("practice:exports", args=[track.id]), fields, **JSON)


def work():
    call_command("separation_worker", "--once")


def level_at(audio: np.ndarray, rate: int, hz: float) -> float:
    """The magnitude of ``audio``'s spectrum at ``hz`` (Hann window, the nearest bin)."""
    mono = audio.mean(axis=1)
    spectrum = np.abs(np.fft.rfft(mono * np.hanning(len(mono))))
    return float(spectrum[round(hz * len(mono) / rate)])


def test_a_mix_with_the_instrumental_muted_renders_only_the_vocals(alice_client, track):
    response = ask(alice_client, track, gain_instrumental="0", gain_vocals="1", format="wav")
    assert response.status_code == 202, response.content
    state = response.json()
    assert state["gains"] == {"instrumental": 0.0, "vocals": 1.0}
    assert state["balance"] is None  # no balance says "no jam track"
    render = Render.objects.get(id=state["id"])
    assert (render.source, render.gains, render.parts) == (MIX, "vocals:100", ["vocals"])
    assert render.label == "Mix, no instrumental, vocals 100 %, WAV"

    work()

    render.refresh_from_db()
    assert render.status == Render.Status.DONE, render.error
    assert render.asset.parameters["gains"] == {"vocals": 100}
    download = alice_client.get(reverse("practice:download", args=[track.id, render.id]))
    assert download["Content-Disposition"].endswith(' - mix-i0-v100-t100-k+0.wav"')
    audio, rate = sf.read(io.BytesIO(b"".join(download.streaming_content)), always_2d=True)
    vocals, jam = level_at(audio, rate, VOCALS_HZ), level_at(audio, rate, JAM_HZ)
    print(f"instrumental muted: 660 Hz at {vocals:.1f}, 440 Hz at {jam:.4f}")
    assert jam < vocals / 1000


def test_the_same_gains_in_another_order_are_the_same_export(alice_client, track):
    first = ask(alice_client, track, gain_vocals="0.1", gain_instrumental="1", tempo="0.9")
    assert first.status_code == 202
    again = ask(alice_client, track, gain_instrumental="1.0", gain_vocals="0.10", tempo="0.9")
    by_balance = ask(alice_client, track, balance="0.1", tempo="0.9")
    assert again.json()["id"] == by_balance.json()["id"] == first.json()["id"]
    render = Render.objects.get()
    assert render.gains == "instrumental:100,vocals:10"
    # As the old balance made it: people read and download the same as ever.
    assert render.balance == 10 and first.json()["balance"] == 0.1
    assert render.label == "Mix, vocals 10 %, tempo 90 %, WAV"
    assert render.slug == "mix-v10-t90-k+0"
    # A silent stem named or left out is the same mix.
    named = export_settings_parse(gains={"instrumental": "1", "vocals": "0"})
    assert named == export_settings_parse(gains={"instrumental": "1"}) == export_settings_parse()


def test_a_jam_listener_may_not_ask_for_a_mix_with_any_vocals(alice, bob, bob_client, track):
    band = make_band(owner=alice, members=[bob])
    TrackShare.objects.create(track=track, band=band)  # without the vocals
    for fields in ({"gain_instrumental": "1", "gain_vocals": "0.01"}, {"gain_vocals": "1"}):
        refused = ask(bob_client, track, **fields)
        assert refused.status_code == 403, fields
        assert "without the vocals" in refused.json()["error"]
    wanted = export_settings_parse(gains={"instrumental": "0.5", "vocals": "0.5"})
    with pytest.raises(ExportForbidden):
        export_request(track=track, access=track_access(bob, track), user=bob, wanted=wanted)
    assert not Render.objects.exists()

    allowed = ask(bob_client, track, gain_instrumental="0.8", gain_vocals="0")
    assert allowed.status_code == 202
    assert Render.objects.get().parts == ["instrumental"]


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"gain_drums": "1"}, "There is no stem called “drums” to mix"),
        ({"gain_instrumental": "0", "gain_vocals": "0"}, "There is nothing to export"),
        ({"gain_vocals": "1.5"}, "The gain of the vocals is out of range: from 0 to 1."),
        ({"gain_vocals": "loud"}, "The gain of the vocals must be a number"),
        ({"balance": "0.1", "gain_vocals": "0.1"}, "Send the balance or the stems' gains"),
        ({"source": "vocals", "gain_vocals": "1"}, "A stem exports as it is"),
    ],
)
def test_per_stem_gains_that_make_no_mix_are_refused_with_a_clear_message(
    alice_client, track, fields, message
):
    response = ask(alice_client, track, **fields)
    assert response.status_code == 400
    assert response.json()["error"].startswith(message)
    assert not Render.objects.exists()


@pytest.mark.parametrize(
    ("source", "gains", "label", "slug"),
    [
        (MIX, "instrumental:100", "Mix, no vocals, MP3", "mix-v0-t100-k+0"),
        (MIX, "instrumental:100,vocals:10", "Mix, vocals 10 %, MP3", "mix-v10-t100-k+0"),
        (
            MIX,
            "instrumental:50,vocals:100",
            "Mix, instrumental 50 %, vocals 100 %, MP3",
            "mix-i50-v100-t100-k+0",
        ),
        ("vocals", "", "Vocals, MP3", "vocals-t100-k+0"),
    ],
)
def test_a_mix_is_labelled_and_named_by_its_stems(source, gains, label, slug):
    render = Render(source=source, gains=gains, format="mp3")
    assert (render.label, render.slug) == (label, slug)


# --- The migration from the balance, and back ---------------------------------------------

BEFORE = [("practice", "0003_render_phase")]


def test_the_migration_turns_balances_into_gains_and_back(alice, track, tmp_path):
    def made(**settings) -> Render:
        return Render.objects.create(track=track, format="wav", **settings)

    jam_only = made(source=MIX, gains="instrumental:100")
    guided = made(source=MIX, gains="instrumental:100,vocals:10")
    stem = made(source="vocals", gains="")
    # A mix the balance cannot say, with its file: it goes on the way back, file and all.
    path = fakes.write_wav(tmp_path / "render.wav", seconds=0.5)
    stored = track_store_rendition(track_id=track.id, settings_slug="mix", fmt="wav", path=path)
    asset = track_record_rendition(track_id=track.id, output=stored, parameters={})
    sung = made(source=MIX, gains="vocals:100", asset=asset, status=Render.Status.DONE)
    try:
        old = migrate(BEFORE)
        OldRender = old.get_model("practice", "Render")
        balances = dict(OldRender.objects.values_list("id", "balance"))
        assert balances == {jam_only.id: 0, guided.id: 10, stem.id: 0}
        assert not Asset.objects.filter(id=asset.id).exists()
        assert FileDeletion.objects.filter(name=stored.name).exists()
        old_one = OldRender.objects.create(track_id=track.id, source=MIX, balance=25, tempo=80)
    finally:
        migrate(latest())

    gains = dict(Render.objects.values_list("id", "gains"))
    assert gains == {
        jam_only.id: "instrumental:100",
        guided.id: "instrumental:100,vocals:10",
        stem.id: "",
        old_one.id: "instrumental:100,vocals:25",
    }
    assert not Render.objects.filter(gains=sung.gains).exists()
    assert Render.objects.get(id=old_one.id).label == "Mix, vocals 25 %, tempo 80 %, WAV"
