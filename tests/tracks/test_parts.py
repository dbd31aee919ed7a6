"""The parts of a track as its pages show them (tracks/parts.py), built from one read of its
stored files."""

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from tests.factories import make_track
from tracks.models import Asset, Track
from tracks.parts import played_together, track_part, track_parts
from tracks.sharing import share_link_create


def asset_queries(captured) -> int:
    table = Asset._meta.db_table
    return sum(table in query["sql"] for query in captured.captured_queries)


def test_a_separated_track_shows_the_original_then_each_stem_with_its_files(alice, tmp_path):
    track = make_track(owner=alice, tmp_path=tmp_path, separated=True)
    parts = track_parts(track)
    assert [part.name for part in parts] == ["original", "instrumental", "vocals"]
    assert all(part.audio and part.waveform and part.peaks for part in parts)
    assert parts[0].audio == track.original
    assert [part.name for part in played_together(parts)] == ["instrumental", "vocals"]
    assert track_part(track, "vocals").audio == track.asset(Asset.Kind.STEM, "vocals")
    assert track_part(track, "drums") is None


def test_a_track_not_yet_separated_plays_its_original_alone(alice, tmp_path):
    track = make_track(owner=alice, tmp_path=tmp_path)
    parts = track_parts(track)
    assert [part.name for part in parts] == ["original"]
    assert played_together(parts) == parts
    assert not track.has_jam_track


def test_a_tracks_parts_read_its_files_once_or_not_at_all_once_prefetched(alice, tmp_path):
    make_track(owner=alice, tmp_path=tmp_path, separated=True)
    track = Track.objects.get()
    with CaptureQueriesContext(connection) as captured:
        track_parts(track)
    assert len(captured.captured_queries) == 1

    [track] = Track.objects.with_assets()
    with CaptureQueriesContext(connection) as captured:
        track_parts(track)
        track_part(track, "instrumental")
        assert track.has_jam_track and track.original is not None
    assert captured.captured_queries == []


def test_a_share_link_page_reads_the_tracks_files_once(alice, tmp_path, client):
    track = make_track(owner=alice, tmp_path=tmp_path, separated=True)
    _, token = share_link_create(track=track, by=alice, expires_in_days=None)
    with CaptureQueriesContext(connection) as captured:
        assert client.get(reverse("tracks:link", args=[token])).status_code == 200
    assert asset_queries(captured) == 1
