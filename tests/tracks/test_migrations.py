"""The move from file columns to Asset rows, run on a database made with the old schema."""

import numpy as np
import pytest
import soundfile as sf
from django.core.files.storage import default_storage
from django.test import Client
from django.urls import reverse

from tests import fakes
from tests.migrating import latest, migrate
from tracks.access import Access, track_access
from tracks.models import Asset, Track

BEFORE = [("tracks", "0001_initial"), ("separation", "0001_initial")]


@pytest.mark.django_db(transaction=True)
def test_a_track_separated_before_the_migration_still_plays_and_downloads(alice, tmp_path):
    old = migrate(BEFORE)
    try:
        OldTrack = old.get_model("tracks", "Track")
        OldJob = old.get_model("separation", "SeparationJob")
        folder = "tracks/3f0c4d7e-0000-4000-8000-000000000001"
        mp3 = tmp_path / "song.mp3"
        sf.write(mp3, np.zeros((44100, 2), dtype=np.float32) + 0.1, 44100)
        wav = fakes.write_wav(tmp_path / "stem.wav")
        png = tmp_path / "wave.png"
        png.write_bytes(b"\x89PNG\r\n\x1a\n" + b"0" * 64)
        names = {
            "original": f"{folder}/original.mp3",
            "instrumental": f"{folder}/a1b2c3d4e5f6-instrumental.wav",
            "vocals": f"{folder}/a1b2c3d4e5f6-vocals.wav",
            "waveform_original": f"{folder}/a1b2c3d4e5f6-waveform-original.png",
            "waveform_instrumental": f"{folder}/a1b2c3d4e5f6-waveform-instrumental.png",
            "waveform_vocals": f"{folder}/a1b2c3d4e5f6-waveform-vocals.png",
        }
        for column, name in names.items():
            source = mp3 if column == "original" else png if "waveform" in column else wav
            with open(source, "rb") as handle:
                assert default_storage.save(name, handle) == name
        track = OldTrack.objects.create(
            id=folder.split("/")[1],
            owner_id=alice.id,
            title="Old song",
            original_filename="Old song.mp3",
            size_bytes=mp3.stat().st_size,
            duration_s=1.0,
            sample_rate=44100,
            channels=2,
            audio_format="MP3 MPEG_LAYER_I",  # the old display string, cut at 16 characters
            **names,
        )
        OldJob.objects.create(track_id=track.id, status="done", progress=100)
    finally:
        migrate(latest())

    track = Track.objects.get(title="Old song")
    assets = {(asset.kind, asset.stem): asset.name for asset in track.assets.all()}
    assert assets == {
        ("original", ""): names["original"],
        ("stem", "instrumental"): names["instrumental"],
        ("stem", "vocals"): names["vocals"],
        ("waveform", ""): names["waveform_original"],
        ("waveform", "instrumental"): names["waveform_instrumental"],
        ("waveform", "vocals"): names["waveform_vocals"],
    }
    assert track.assets.get(kind=Asset.Kind.STEM, stem="vocals").size_bytes == wav.stat().st_size
    assert (track.container, track.codec, track.format_label) == ("mp3", "mpeg_layer_iii", "MP3")

    client = Client()
    client.force_login(alice)
    page = client.get(reverse("tracks:detail", args=[track.id])).content.decode()
    assert "MP3" in page and "MPEG_LAYER" not in page
    for kind, source in (("original", mp3), ("instrumental", wav), ("vocals", wav)):
        played = client.get(reverse("tracks:audio", args=[track.id, kind]))
        assert played.status_code == 200
        assert b"".join(played.streaming_content) == source.read_bytes()
    downloaded = client.get(reverse("tracks:download", args=[track.id, "instrumental"]))
    assert downloaded["Content-Disposition"] == 'attachment; filename="Old song - instrumental.wav"'
    assert b"".join(downloaded.streaming_content) == wav.read_bytes()
    waveform = client.get(reverse("tracks:waveform", args=[track.id, "vocals"]))
    assert waveform.status_code == 200


@pytest.mark.django_db(transaction=True)
def test_the_migration_can_be_reversed_without_losing_a_file(alice, tmp_path, fake_engine):
    from tests.factories import make_track

    track = make_track(owner=alice, tmp_path=tmp_path, title="New song", separated=True)
    # The player's peaks (0008) have no column in the old schema: derived data, not kept.
    names = set(track.assets.exclude(kind="peaks").values_list("name", flat=True))
    try:
        old = migrate([("tracks", "0001_initial")])
        row = old.get_model("tracks", "Track").objects.get(id=track.id)
        columns = (
            "original",
            "instrumental",
            "vocals",
            "waveform_original",
            "waveform_instrumental",
            "waveform_vocals",
        )
        assert {getattr(row, column).name for column in columns} == names
        assert row.audio_format == "WAV PCM_16"
    finally:
        migrate(latest())
    kept = Track.objects.get(id=track.id).assets.exclude(kind="peaks")
    assert set(kept.values_list("name", flat=True)) == names


BEFORE_SCOPES = [("tracks", "0009_asset_ordering_by_track_id")]


@pytest.mark.django_db(transaction=True)
def test_the_vocals_switch_becomes_the_scope_of_each_share_and_link(alice, bob):
    from tests.factories import make_band

    band = make_band(owner=alice, members=[bob])
    old = migrate(BEFORE_SCOPES)
    try:
        OldTrack = old.get_model("tracks", "Track")
        shared = {}
        for vocals in (True, False):
            track = OldTrack.objects.create(
                owner_id=alice.id, title=f"{vocals}", share_vocals=vocals
            )
            old.get_model("tracks", "TrackShare").objects.create(track=track, band_id=band.id)
            old.get_model("tracks", "ShareLink").objects.create(track=track, token_hash=f"{vocals}")
            shared[vocals] = track.id
    finally:
        migrate(latest())

    for vocals, scope in ((True, "all"), (False, "jam")):
        track = Track.objects.get(id=shared[vocals])
        assert list(track.shares.values_list("scope", flat=True)) == [scope]
        assert list(track.share_links.values_list("scope", flat=True)) == [scope]
    assert track_access(bob, Track.objects.get(id=shared[True])) == Access.LISTEN
    assert track_access(bob, Track.objects.get(id=shared[False])) == Access.JAM


@pytest.mark.django_db(transaction=True)
def test_going_back_allows_the_vocals_only_where_every_share_and_live_link_gave_every_part(
    alice,
):
    from django.utils import timezone

    from tests.factories import make_band
    from tracks.models import ShareLink, TrackShare

    band, other = make_band(owner=alice), make_band(owner=alice, name="Other")

    def track_shared(title, scopes, links=(), revoked=()):
        track = Track.objects.create(owner=alice, title=title)
        for band_id, scope in zip((band.id, other.id), scopes, strict=False):
            TrackShare.objects.create(track=track, band_id=band_id, scope=scope)
        for n, scope in enumerate(links):
            ShareLink.objects.create(track=track, token_hash=f"{title}{n}", scope=scope)
        for n, scope in enumerate(revoked):
            ShareLink.objects.create(
                track=track, token_hash=f"{title}-{n}", scope=scope, revoked_at=timezone.now()
            )
        return track.id

    allowed = {
        track_shared("every part", ["all", "all"], links=["all"]): True,
        track_shared("link only", [], links=["all"]): True,
        track_shared("old jam link revoked", ["all"], revoked=["jam"]): True,
        track_shared("jam", ["jam"], links=["jam"]): False,
        track_shared("one band jam", ["all", "jam"]): False,
        track_shared("a jam link", ["all"], links=["jam"]): False,
        track_shared("not shared", []): False,
    }
    try:
        old = migrate(BEFORE_SCOPES)
        rows = old.get_model("tracks", "Track").objects.filter(id__in=allowed)
        assert dict(rows.values_list("id", "share_vocals")) == allowed
    finally:
        migrate(latest())
    assert set(TrackShare.objects.values_list("scope", flat=True)) == {"all", "jam"}


BEFORE_HISTORY = [("tracks", "0010_share_scopes"), ("audit", "0001_initial")]


@pytest.mark.django_db(transaction=True)
def test_existing_reports_are_kept_and_learn_their_tracks_title_and_owner(alice, bob, moderator):
    from audit.models import AuditEntry
    from tracks.models import Report

    old = migrate(BEFORE_HISTORY)
    try:
        track = old.get_model("tracks", "Track").objects.create(owner_id=alice.id, title="Old")
        old.get_model("tracks", "Report").objects.create(
            track=track, reporter_id=bob.id, reason="copyright", details="The album cut"
        )
        OldEntry = old.get_model("audit", "AuditEntry")
        OldEntry.objects.create(
            actor_id=moderator.id,
            actor_name="mona",
            action="track.hide",
            target_type="track",
            target_id=str(track.id),
            target_label="Old",
            reason="x",
        )
        OldEntry.objects.create(
            actor_id=moderator.id,
            actor_name="mona",
            action="user.suspend",
            target_type="user",
            target_id=str(bob.id),
            target_label="bob",
            reason="y",
        )
        track_id = track.id
    finally:
        migrate(latest())

    report = Report.objects.get()
    assert (report.track_id, report.track_ref, report.track_title, report.track_owner) == (
        track_id,
        track_id,
        "Old",
        alice,
    )
    assert (report.reason, report.details, report.is_open) == ("copyright", "The album cut", True)
    subjects = dict(AuditEntry.objects.values_list("action", "subject"))
    assert subjects == {"track.hide": alice.id, "user.suspend": bob.id}
    Track.objects.filter(id=track_id).delete()
    assert Report.objects.get().track_title == "Old"  # the report outlives its track


@pytest.mark.django_db(transaction=True)
def test_titles_kept_with_bidi_controls_lose_them_and_a_title_of_controls_alone_is_untitled(alice):
    old = migrate([("tracks", "0014_upload_keys_and_direct_uploads")])
    try:
        OldTrack = old.get_model("tracks", "Track")
        spoofed = OldTrack.objects.create(owner_id=alice.id, title="Evil \u202egnp.exe")
        empty = OldTrack.objects.create(owner_id=alice.id, title="\u2066\u2069")
        plain = OldTrack.objects.create(owner_id=alice.id, title="Blue in Green")
    finally:
        migrate(latest())

    assert Track.objects.get(id=spoofed.id).title == "Evil gnp.exe"
    assert Track.objects.get(id=empty.id).title == "Untitled"
    assert Track.objects.get(id=plain.id).title == "Blue in Green"
