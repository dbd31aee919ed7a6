"""The library's cards (tracks/cards.py): what each shows and links to, by who looks."""

import re

from django.urls import reverse

from tests.factories import make_band, make_track
from tracks.models import Asset
from tracks.sharing import track_share

LIBRARY = reverse("tracks:library")


def card_of(html: str, track) -> str:
    match = re.search(rf'<li class="track-row" data-track-id="{track.id}".*?\n</li>', html, re.S)
    assert match, f"no card for {track.title}"
    return match.group(0)


def urls_in(card: str) -> set[str]:
    return set(re.findall(r'(?:href|src|data-audio|data-peaks|data-fragment-url)="([^"]+)"', card))


def test_a_separated_tracks_card_plays_and_offers_the_jam_track_alone(
    alice_client, alice, tmp_path
):
    track = make_track(owner=alice, tmp_path=tmp_path, title="Blue in Green", separated=True)
    card = card_of(alice_client.get(LIBRARY).content.decode(), track)
    assert urls_in(card) == {
        reverse("tracks:detail", args=[track.id]),
        reverse("tracks:row", args=[track.id]),
        reverse("tracks:audio", args=[track.id, "instrumental"]),
        reverse("tracks:peaks", args=[track.id, "instrumental"]),
        reverse("tracks:download", args=[track.id, "instrumental"]),
    }
    assert 'data-parts="instrumental"' in card
    assert f'data-duration="{track.duration_s:.3f}"' in card
    assert "Download the jam track" in card


def test_every_card_on_a_page_links_to_its_own_track(alice_client, alice, tmp_path):
    tracks = [
        make_track(owner=alice, tmp_path=tmp_path, title=f"Song {n}", separated=True)
        for n in range(3)
    ]
    html = alice_client.get(LIBRARY).content.decode()
    for track in tracks:
        card = card_of(html, track)
        assert all(str(track.id) in url for url in urls_in(card)), card
        for other in tracks:
            if other != track:
                assert str(other.id) not in card


def test_a_track_separated_before_peaks_existed_plays_without_them(alice_client, alice, tmp_path):
    track = make_track(owner=alice, tmp_path=tmp_path, separated=True)
    track.assets.filter(kind=Asset.Kind.PEAKS).delete()
    card = card_of(alice_client.get(LIBRARY).content.decode(), track)
    assert "data-peaks" not in card
    assert reverse("tracks:audio", args=[track.id, "instrumental"]) in card


def test_a_track_with_a_waveform_and_no_stems_shows_the_picture_to_who_may_hear_it(
    alice, alice_client, bob, bob_client, tmp_path
):
    """The original's waveform without a jam track: a separation's stems gone (or, before
    the stems and waveforms were stored together, one still running)."""
    band = make_band(owner=alice, members=[bob])
    track = make_track(owner=alice, tmp_path=tmp_path, title="No stems", separated=True)
    track.assets.filter(kind=Asset.Kind.STEM).delete()
    picture = reverse("tracks:waveform", args=[track.id, "original"])
    card = card_of(alice_client.get(LIBRARY).content.decode(), track)
    assert picture in card
    assert "data-player" not in card and "Download the jam track" not in card
    # A bandmate who may hear the jam track only: no picture of the original.
    track_share(track=track, by=alice, band_ids=[band.id], scope="jam")
    card = card_of(bob_client.get(reverse("tracks:shared")).content.decode(), track)
    assert picture not in card
    track_share(track=track, by=alice, band_ids=[band.id], scope="all")
    card = card_of(bob_client.get(reverse("tracks:shared")).content.decode(), track)
    assert picture in card


def test_a_bandmate_without_the_vocals_gets_the_jam_track_and_nothing_else(
    alice, bob, bob_client, tmp_path
):
    band = make_band(owner=alice, members=[bob])
    waiting = make_track(owner=alice, tmp_path=tmp_path, title="Waiting")
    done = make_track(owner=alice, tmp_path=tmp_path, title="Done", separated=True)
    for track in (waiting, done):
        track_share(track=track, by=alice, band_ids=[band.id], scope="jam")
    html = bob_client.get(reverse("tracks:shared")).content.decode()
    assert urls_in(card_of(html, waiting)) == {
        reverse("tracks:detail", args=[waiting.id]),
        reverse("tracks:row", args=[waiting.id]),
    }
    done_card = card_of(html, done)
    assert reverse("tracks:audio", args=[done.id, "instrumental"]) in done_card
    assert "vocals" not in done_card and "original" not in done_card
    assert f"by <bdi>{alice.username}</bdi>" in done_card


def test_the_refetched_row_is_the_same_card(alice_client, alice, tmp_path):
    track = make_track(owner=alice, tmp_path=tmp_path, separated=True)
    in_page = card_of(alice_client.get(LIBRARY).content.decode(), track)
    alone = alice_client.get(reverse("tracks:row", args=[track.id]), {"page_url": LIBRARY})
    assert card_of(alone.content.decode(), track) == in_page


def test_a_card_gives_its_upload_time_as_the_date_filter_would_in_the_sites_time_zone(
    alice_client, alice, tmp_path, settings
):
    from datetime import UTC, datetime

    from django.template.defaultfilters import date
    from django.utils import timezone

    from tracks.models import Track

    settings.TIME_ZONE = "America/St_Johns"  # UTC-3:30 in winter: the day before, odd minutes
    track = make_track(owner=alice, tmp_path=tmp_path, title="Night Owl")
    Track.objects.filter(pk=track.pk).update(created_at=datetime(2026, 3, 2, 2, 5, 9, 123, UTC))
    track.refresh_from_db()

    card = card_of(alice_client.get(LIBRARY).content.decode(), track)
    with timezone.override(settings.TIME_ZONE):
        local = timezone.localtime(track.created_at)
        expected = f'<time datetime="{date(local, "c")}">{date(local, "j M Y, H:i")}</time>'
    # A one-digit day, unpadded ("j"); the month's abbreviation; the offset in the ISO form.
    assert expected == '<time datetime="2026-03-01T22:35:09.000123-03:30">1 Mar 2026, 22:35</time>'
    assert expected in card
