import io

import pytest
import soundfile as sf
from django.test import override_settings
from django.urls import reverse

from tests.factories import make_track
from tracks.models import Track

LIBRARY = reverse("tracks:library")


def test_the_library_lists_only_my_tracks_newest_first(alice_client, alice, bob, tmp_path):
    make_track(owner=alice, tmp_path=tmp_path, title="First")
    make_track(owner=alice, tmp_path=tmp_path, title="Second")
    make_track(owner=bob, tmp_path=tmp_path, title="Bob's secret")
    response = alice_client.get(LIBRARY)
    titles = [t.title for t in response.context["page"].object_list]
    assert titles == ["Second", "First"]
    assert "Bob&#x27;s secret" not in response.content.decode()


def test_the_library_searches_by_title(alice_client, alice, tmp_path):
    make_track(owner=alice, tmp_path=tmp_path, title="Autumn Leaves")
    make_track(owner=alice, tmp_path=tmp_path, title="So What")
    response = alice_client.get(LIBRARY, {"q": "autumn"})
    assert [t.title for t in response.context["page"].object_list] == ["Autumn Leaves"]


@override_settings(JAM_TRACKS_PER_PAGE=2)
def test_the_library_is_paginated(alice_client, alice, tmp_path):
    for n in range(5):
        make_track(owner=alice, tmp_path=tmp_path, title=f"Song {n}")
    page3 = alice_client.get(LIBRARY, {"page": 3}).context["page"]
    assert [t.title for t in page3.object_list] == ["Song 0"]
    assert page3.paginator.num_pages == 3


def test_the_empty_library_invites_an_upload(alice_client):
    assert "Upload a song" in alice_client.get(LIBRARY).content.decode()


def test_the_track_page_plays_the_stems_as_one_with_their_peaks_once_separated(
    alice_client, alice, tmp_path, fake_engine
):
    track = make_track(owner=alice, tmp_path=tmp_path, title="Take Five", separated=True)
    page = alice_client.get(reverse("tracks:detail", args=[track.id])).content.decode()
    assert 'data-parts="instrumental vocals"' in page
    for kind in ("instrumental", "vocals"):
        assert reverse("tracks:audio", args=[track.id, kind]) in page
        assert reverse("tracks:peaks", args=[track.id, kind]) in page
    assert reverse("tracks:audio", args=[track.id, "original"]) not in page  # the stems add up
    assert reverse("tracks:download", args=[track.id, "instrumental"]) in page
    assert 'data-role="export-slot"' in page  # where the export feature puts its control


def test_before_separation_the_player_plays_the_original(alice_client, alice, tmp_path):
    track = make_track(owner=alice, tmp_path=tmp_path, title="Take Five")
    page = alice_client.get(reverse("tracks:detail", args=[track.id])).content.decode()
    assert 'data-parts="original"' in page
    assert reverse("tracks:audio", args=[track.id, "original"]) in page
    assert 'data-role="length">0:01<' in page  # the length, before anything is played


def test_a_bandmate_without_the_vocals_gets_a_player_of_the_jam_track_alone(
    alice_client, alice, bob, tmp_path, fake_engine
):
    from django.test import Client

    from tests.factories import make_band
    from tracks.sharing import track_share

    track = make_track(owner=alice, tmp_path=tmp_path, separated=True)
    band = make_band(owner=alice, members=[bob])
    track_share(track=track, by=alice, band_ids=[band.id], scope="jam")
    client = Client()
    client.force_login(bob)
    page = client.get(reverse("tracks:detail", args=[track.id])).content.decode()
    assert 'data-parts="instrumental"' in page
    assert "/vocals" not in page and "/original" not in page
    assert 'data-role="balance-row"' in page and "data-guide" not in page


def test_the_peaks_are_json(alice_client, alice, tmp_path, fake_engine):
    track = make_track(owner=alice, tmp_path=tmp_path, separated=True)
    response = alice_client.get(reverse("tracks:peaks", args=[track.id, "instrumental"]))
    assert response["Content-Type"] == "application/json"
    assert b'"peaks":[[' in b"".join(response.streaming_content)


def test_it_renames_a_track(alice_client, alice, tmp_path):
    track = make_track(owner=alice, tmp_path=tmp_path)
    response = alice_client.post(reverse("tracks:rename", args=[track.id]), {"title": " New name "})
    assert response.status_code == 302
    track.refresh_from_db()
    assert track.title == "New name"


def test_it_refuses_a_blank_title(alice_client, alice, tmp_path):
    track = make_track(owner=alice, tmp_path=tmp_path, title="Keep me")
    response = alice_client.post(reverse("tracks:rename", args=[track.id]), {"title": "   "})
    assert response.status_code == 400
    track.refresh_from_db()
    assert track.title == "Keep me"


def test_delete_removes_the_track_and_all_its_files(
    alice_client, alice, tmp_path, fake_engine, private_media, django_capture_on_commit_callbacks
):
    track = make_track(owner=alice, tmp_path=tmp_path, separated=True)
    names = track.stored_names
    assert len(names) == 9
    assert all((private_media / name).exists() for name in names)
    with django_capture_on_commit_callbacks(execute=True):
        response = alice_client.post(reverse("tracks:delete", args=[track.id]))
    assert response.status_code == 302
    assert not Track.objects.filter(id=track.id).exists()
    assert not any((private_media / name).exists() for name in names)


def test_delete_needs_post(alice_client, alice, tmp_path):
    track = make_track(owner=alice, tmp_path=tmp_path)
    assert alice_client.get(reverse("tracks:delete", args=[track.id])).status_code == 405


@pytest.fixture
def separated(alice, tmp_path, fake_engine):
    return make_track(owner=alice, tmp_path=tmp_path, title="Só Danço Samba / live", separated=True)


def test_the_instrumental_downloads_as_a_wav_named_after_the_whole_title(alice_client, separated):
    response = alice_client.get(reverse("tracks:download", args=[separated.id, "instrumental"]))
    assert response.status_code == 200
    assert response["Content-Type"] == "audio/wav"
    # The title whole, its slash made a dash; an ASCII name for clients that want one.
    assert response["Content-Disposition"] == (
        'attachment; filename="so-danco-samba-live-instrumental.wav"; '
        "filename*=utf-8''S%C3%B3%20Dan%C3%A7o%20Samba%20-%20live%20-%20instrumental.wav"
    )
    data, rate = sf.read(io.BytesIO(b"".join(response.streaming_content)))
    assert rate == 44100
    assert len(data) == 44100


def test_audio_answers_a_range_request_with_206(alice_client, separated):
    url = reverse("tracks:audio", args=[separated.id, "instrumental"])
    whole = b"".join(alice_client.get(url).streaming_content)
    response = alice_client.get(url, headers={"Range": "bytes=100-199"})
    assert response.status_code == 206
    assert response["Content-Range"] == f"bytes 100-199/{len(whole)}"
    assert response["Content-Length"] == "100"
    assert b"".join(response.streaming_content) == whole[100:200]


def test_audio_answers_a_suffix_range(alice_client, separated):
    url = reverse("tracks:audio", args=[separated.id, "vocals"])
    whole = b"".join(alice_client.get(url).streaming_content)
    response = alice_client.get(url, headers={"Range": "bytes=-10"})
    assert response.status_code == 206
    assert b"".join(response.streaming_content) == whole[-10:]


def test_an_unsatisfiable_range_is_a_416(alice_client, separated):
    url = reverse("tracks:audio", args=[separated.id, "original"])
    response = alice_client.get(url, headers={"Range": "bytes=99999999-"})
    assert response.status_code == 416


def test_a_waveform_is_a_png(alice_client, separated):
    response = alice_client.get(reverse("tracks:waveform", args=[separated.id, "instrumental"]))
    assert response["Content-Type"] == "image/png"
    assert b"".join(response.streaming_content).startswith(b"\x89PNG")


def test_the_track_page_panel_holds_the_status_the_player_and_the_downloads(
    alice_client, alice, tmp_path, fake_engine
):
    track = make_track(owner=alice, tmp_path=tmp_path, title="Take Five", separated=True)
    html = alice_client.get(reverse("tracks:panel", args=[track.id])).content.decode()
    assert 'data-role="status-label">Done<' in html
    for part in ("instrumental", "vocals"):
        assert f'data-stem="{part}"' in html
        assert f'data-part="{part}"' in html  # its download
    assert "Instrumental (jam track)" in html  # the registry's label


def test_a_queued_track_offers_cancel_and_returns_to_the_page_it_was_on(
    alice_client, alice, tmp_path
):
    track = make_track(owner=alice, tmp_path=tmp_path)
    row = alice_client.get(reverse("tracks:row", args=[track.id])).content.decode()
    panel = alice_client.get(reverse("tracks:panel", args=[track.id])).content.decode()
    cancel = reverse("separation:cancel", args=[track.id])
    assert cancel in row and cancel in panel
    # Re-fetched fragments must not send the musician to the fragment's own URL afterwards.
    assert f'name="next" value="{LIBRARY}"' in row
    assert f'name="next" value="{reverse("tracks:detail", args=[track.id])}"' in panel


def test_the_library_shows_the_format_people_read(alice_client, alice, tmp_path):
    make_track(owner=alice, tmp_path=tmp_path, title="Plain")
    assert "WAV 16-bit" in alice_client.get(LIBRARY).content.decode()


def test_the_library_costs_the_same_queries_for_one_track_or_ten(
    alice_client, alice, tmp_path, fake_engine
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    make_track(owner=alice, tmp_path=tmp_path, title="One", separated=True)
    with CaptureQueriesContext(connection) as one:
        alice_client.get(LIBRARY)
    for n in range(9):
        make_track(owner=alice, tmp_path=tmp_path, title=f"More {n}", separated=True)
    with CaptureQueriesContext(connection) as ten:
        alice_client.get(LIBRARY)
    assert len(ten.captured_queries) == len(one.captured_queries)


def test_a_refused_rename_keeps_cancel_pointing_at_the_track_page(alice_client, alice, tmp_path):
    track = make_track(owner=alice, tmp_path=tmp_path)
    response = alice_client.post(reverse("tracks:rename", args=[track.id]), {"title": "  "})
    assert response.status_code == 400
    detail = reverse("tracks:detail", args=[track.id])
    assert f'name="next" value="{detail}"' in response.content.decode()


def test_retry_on_a_track_whose_job_is_gone_says_so(alice_client, alice, tmp_path):
    track = make_track(owner=alice, tmp_path=tmp_path)
    track.job.delete()
    response = alice_client.post(reverse("separation:retry", args=[track.id]), follow=True)
    assert response.status_code == 200
    assert "Only a failed or cancelled separation can be retried." in response.content.decode()


def test_a_refetched_row_returns_to_the_library_page_it_sits_on(alice_client, alice, tmp_path):
    track = make_track(owner=alice, tmp_path=tmp_path)
    row_url = reverse("tracks:row", args=[track.id])
    row = alice_client.get(row_url, {"page_url": "/?q=Song&page=2"}).content.decode()
    assert 'name="next" value="/?q=Song&amp;page=2"' in row
    elsewhere = alice_client.get(row_url, {"page_url": "https://evil.example/"}).content.decode()
    assert f'name="next" value="{LIBRARY}"' in elsewhere


def test_a_rename_drops_control_characters_as_an_upload_does(alice_client, alice, tmp_path):
    track = make_track(owner=alice, tmp_path=tmp_path)
    response = alice_client.post(
        reverse("tracks:rename", args=[track.id]),
        {"title": "Line one\r\nSet-Cookie: x\x1b\x7f\u2028\x85"},
    )
    assert response.status_code == 302
    track.refresh_from_db()
    assert track.title == "Line oneSet-Cookie: x"


def test_a_title_of_only_control_characters_is_refused_as_blank(alice_client, alice, tmp_path):
    track = make_track(owner=alice, tmp_path=tmp_path, title="Keep me")
    response = alice_client.post(reverse("tracks:rename", args=[track.id]), {"title": "\r\n\t"})
    assert response.status_code == 400
    track.refresh_from_db()
    assert track.title == "Keep me"


def test_two_tracks_with_the_same_title_are_told_apart_by_their_files_length_and_time(
    alice_client, alice, bob, tmp_path
):
    from separation.services.dispatch import track_submit
    from tests import fakes
    from tests.factories import make_band, temporary_upload
    from tracks.sharing import track_share

    short = fakes.write_wav(tmp_path / "a.wav", seconds=1.0)
    long = fakes.write_wav(tmp_path / "b.wav", seconds=2.0)
    # Closed here, as a request's uploads are: the stored file was moved away, which
    # Django's close() expects and the temporary file's own clean-up at exit does not.
    with temporary_upload(short, "mix.wav") as upload:
        first = track_submit(owner=alice, upload=upload, title="")
    with temporary_upload(long, "Mix (take 2).wav") as upload:
        second = track_submit(owner=alice, upload=upload, title="mix")
    assert first.title == second.title == "mix"

    page = alice_client.get(LIBRARY).content.decode()
    assert "from “<bdi>mix.wav</bdi>”" in page and "from “<bdi>Mix (take 2).wav</bdi>”" in page
    assert "0:01" in page and "0:02" in page
    assert f'datetime="{first.created_at.isoformat()}"' in page

    # A bandmate sees the tracks, never the owner's file names.
    band = make_band(owner=alice, members=[bob])
    track_share(track=first, by=alice, band_ids=[band.id], scope="jam")
    alice_client.force_login(bob)
    shared = alice_client.get(reverse("tracks:shared")).content.decode()
    assert str(first.id) in shared
    assert "mix.wav" not in shared


def test_the_shared_page_keeps_its_empty_state_text_ready_for_when_the_last_share_goes(
    alice, bob, bob_client, tmp_path, fake_engine
):
    """The text is on the page, hidden while tracks are listed (static/js/app.js shows it
    when the last one goes, live; the browser test watches it)."""
    from tests.factories import make_band
    from tracks.sharing import track_share

    band = make_band(owner=alice, members=[bob])
    track = make_track(owner=alice, tmp_path=tmp_path, title="Shared one", separated=True)
    track_share(track=track, by=alice, band_ids=[band.id], scope="jam")
    listed = bob_client.get(reverse("tracks:shared")).content.decode()
    assert '<p class="empty" data-role="empty" hidden>Nothing is shared with you' in listed
    track_share(track=track, by=alice, band_ids=[], scope="jam")
    empty = bob_client.get(reverse("tracks:shared")).content.decode()
    assert '<p class="empty" data-role="empty">Nothing is shared with you' in empty


def test_revoking_a_share_link_asks_for_confirmation(alice_client, alice, tmp_path):
    from tracks.sharing import share_link_create

    track = make_track(owner=alice, tmp_path=tmp_path)
    link, _ = share_link_create(track=track, by=alice, expires_in_days=7)
    page = alice_client.get(reverse("tracks:detail", args=[track.id])).content.decode()
    revoke = reverse("tracks:link_revoke", args=[track.id, link.id])
    assert f'action="{revoke}" class="inline" data-confirm="Revoke this link?' in page
