"""Add from a link, end to end on a media server on loopback (tests/imports/media_server.py):
the web request only queues; the worker fetches through the guard, checks the song as an
upload is checked, stores it and queues its separation, or fails with one sentence and
leaves nothing behind. No test sends a packet outside 127.0.0.0/8: the guard lets exactly
the media server's address through (JAM_IMPORT_TEST_ALLOW) and refuses the rest unsent."""

import dataclasses
import threading

import pytest
from django.core.cache import cache
from django.db import connection
from django.urls import reverse

from imports.fetch import explain
from imports.kind import IMPORT
from imports.models import ImportJob
from imports.services import ImportRefused, import_cancel, import_retry, import_submit
from imports.work import FetchError, metadata_check
from jobs import kinds
from jobs.runner import Outcome, job_process
from jobs.services import jobs_sweep
from separation.models import SeparationJob
from tests.imports.media_server import MediaServer
from tracks import files
from tracks.models import Asset, Report, Track

pytestmark = pytest.mark.django_db


@pytest.fixture
def media(settings):
    with MediaServer() as server:
        settings.JAM_IMPORT_TEST_ALLOW = server.address
        settings.JAM_IMPORT_MAX_BYTES = 2 * 1024 * 1024
        settings.JAM_IMPORT_PAGE_BYTES = 1024 * 1024
        settings.JAM_IMPORT_TIME_LIMIT_S = 120
        cache.clear()
        yield server


def fetched(owner, url: str) -> Track:
    """Queue an import of ``url`` and run it in this process, as a worker would."""
    track = import_submit(owner=owner, url=url)
    job_process("import", job_id=track.import_job.id, worker_id="test-worker")
    track.refresh_from_db()
    track.import_job.refresh_from_db()
    return track


def assert_failed_leaving_nothing(track: Track, reason: str) -> None:
    job = track.import_job
    assert (job.status, job.error) == ("failed", reason)
    assert not Asset.objects.filter(track=track).exists()
    assert files.stored_in_folder(track.id) == []
    assert not SeparationJob.objects.filter(track=track).exists()


def test_a_pasted_link_makes_its_track_at_once_and_only_queues_the_fetch(alice_client, media):
    response = alice_client.post(reverse("imports:add"), {"url": media.url("/page.html")})
    track = Track.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("tracks:detail", args=[track.id])
    assert track.source_url == media.url("/page.html")
    assert track.import_job.status == "queued"
    assert media.paths == []  # the web process fetched nothing
    library = alice_client.get(reverse("tracks:library")).content.decode()
    assert "Waiting to fetch" in library and track.title in library


def test_the_worker_fetches_a_direct_file_and_queues_its_separation(alice, media):
    track = fetched(alice, media.url("/song.flac"))
    assert track.import_job.status == "done"
    assert track.original is not None
    assert files.stored_in_folder(track.id) == [track.original.name]
    assert round(track.duration_s) == 16 and track.sample_rate == 44100
    assert track.source_title == "song"
    assert track.job.status == "queued"  # the separation, as after an upload
    assert track.reserved_bytes > 0  # its stems' room held in the quota


def test_a_page_with_an_audio_element_gives_its_audio_and_title(alice, media):
    track = fetched(alice, media.url("/page.html"))
    assert track.import_job.status == "done"
    assert track.source_title == "A song page"
    assert media.paths == ["/page.html", "/song.flac"]


def test_redirects_on_the_allowed_server_are_followed(alice, media):
    track = fetched(alice, media.url("/redirect-twice"))
    assert track.import_job.status == "done"
    assert media.paths[:3] == ["/redirect-twice", "/redirect", "/song.flac"]


@pytest.mark.parametrize(
    ("location", "reason"),
    [
        (
            "http://127.0.0.2:{port}/song.flac",
            "That link leads to 127.0.0.2, a loopback address, which imports may not reach.",
        ),
        (
            "http://169.254.169.254/latest/meta-data/",
            "That link leads to 169.254.169.254, a cloud metadata address, which imports may "
            "not reach.",
        ),
        (
            "http://[::1]:{port}/song.flac",
            "That link leads to ::1, a loopback address, which imports may not reach.",
        ),
        (
            "http://2130706433:{port}/song.flac",
            "That link leads to 127.0.0.1, a loopback address, which imports may not reach.",
        ),
        ("http://localhost:{port}/", "localhost is a local name, which imports may not reach."),
    ],
)
def test_a_redirect_into_a_refused_address_fails_the_import_before_connecting(
    alice, media, location, reason
):
    # 2130706433 is the allowed server's own address, but not on its port: refused too.
    hop = location.format(port=media.port + 1 if "2130706433" in location else media.port)
    track = fetched(alice, media.url(f"/to?location={hop}"))
    assert_failed_leaving_nothing(track, reason)
    assert media.paths == ["/to"]


def test_a_link_to_a_refused_address_fails_with_the_reason(alice, media):
    track = fetched(alice, "http://10.0.0.1/song.mp3")
    assert_failed_leaving_nothing(
        track, "That link leads to 10.0.0.1, a private address, which imports may not reach."
    )


def test_a_slow_server_is_cut_off_at_the_time_limit(alice, media, settings):
    settings.JAM_IMPORT_TIME_LIMIT_S = 2
    track = fetched(alice, media.url("/slow.flac"))
    assert_failed_leaving_nothing(track, "Fetching that link took longer than the time limit.")


def test_a_body_without_end_is_cut_off_at_the_byte_limit(alice, media):
    track = fetched(alice, media.url("/endless.flac"))
    assert_failed_leaving_nothing(track, "That file is larger than the import limit of 2 MB.")


def test_a_server_that_lies_about_its_length_gives_no_song(alice, media):
    # It says 100 kB and never stops: the download stops at the length it said, and that
    # much of a FLAC file is not a song (the whole file is decoded before it is kept).
    track = fetched(alice, media.url("/lying.flac"))
    assert track.import_job.error.startswith("The link gave no audio we can read:")
    assert_failed_leaving_nothing(track, track.import_job.error)


def test_a_file_over_the_byte_limit_is_refused(alice, media, settings):
    settings.JAM_IMPORT_MAX_BYTES = 1024 * 1024  # the song is 1.3 MB
    track = fetched(alice, media.url("/song.flac"))
    assert_failed_leaving_nothing(track, "That file is larger than the import limit of 1 MB.")


def test_a_song_over_the_length_limit_is_refused(alice, media, settings):
    settings.JAM_MAX_DURATION_S = 10  # the song is 16 s
    track = fetched(alice, media.url("/song.flac"))
    assert track.import_job.error.startswith("That song is too long or too large to process")
    assert_failed_leaving_nothing(track, track.import_job.error)


def test_a_page_without_audio_fails_with_a_sentence(alice, media):
    track = fetched(alice, media.url("/noaudio.html"))
    assert_failed_leaving_nothing(
        track, "We found no audio at that link: the site is not one we know, or the page has none."
    )


def test_a_page_with_several_songs_is_a_playlist_refused_before_any_song_is_fetched(alice, media):
    track = fetched(alice, media.url("/two.html"))
    assert_failed_leaving_nothing(track, "That link is a playlist; add its songs one by one.")
    assert media.paths == ["/two.html"]


def test_a_missing_page_fails_with_a_sentence(alice, media):
    track = fetched(alice, media.url("/gone"))
    assert_failed_leaving_nothing(track, "Nothing was found at that address (404).")


def test_a_server_that_is_down_fails_with_a_sentence(alice, media, settings):
    from tests.ports import free_port

    port = free_port()  # nothing listens there
    settings.JAM_IMPORT_TEST_ALLOW = f"127.0.0.1:{port}"
    track = fetched(alice, f"http://127.0.0.1:{port}/song.flac")
    assert_failed_leaving_nothing(
        track, "The server at 127.0.0.1 did not answer; please try again later."
    )


@pytest.mark.parametrize(
    ("info", "reason"),
    [
        (
            {"_type": "playlist", "entries": []},
            "That link is a playlist; add its songs one by one.",
        ),
        ({"is_live": True}, "That link is a live stream, which cannot be imported."),
        ({"live_status": "is_upcoming"}, "That link is a live stream, which cannot be imported."),
        ({"duration": 3600}, "That song is 60 minutes long; the limit is 15 minutes."),
        ({"filesize": 300 * 2**20}, "That file is larger than the import limit of 200 MB."),
        ({"filesize_approx": 300 * 2**20}, "That file is larger than the import limit of 200 MB."),
    ],
)
def test_the_extractors_metadata_is_checked_before_any_media_byte(alice, settings, info, reason):
    settings.JAM_MAX_DURATION_S = 15 * 60
    settings.JAM_IMPORT_MAX_BYTES = 200 * 2**20
    with pytest.raises(FetchError) as refused:
        metadata_check(info, owner_id=alice.pk)
    assert str(refused.value) == reason


def test_the_metadata_check_holds_the_owners_quota_with_the_stems_to_come(alice, settings):
    settings.JAM_USER_QUOTA_BYTES = 50 * 2**20
    metadata_check({"duration": 60, "filesize": 2 * 2**20}, owner_id=alice.pk)  # ~23 MB in all
    with pytest.raises(FetchError, match="too big for your storage"):
        metadata_check({"duration": 300, "filesize": 8 * 2**20}, owner_id=alice.pk)


@pytest.mark.parametrize(
    ("said", "sentence"),
    [
        ("ERROR: [youtube] abc: Private video. Sign in if you've been granted access", "private"),
        ("ERROR: [vimeo] 1: This video is private", "private"),
        ("ERROR: [youtube] abc: Sign in to confirm your age", "log-in"),
        ("ERROR: [instagram] x: Requested content is not available, login required", "log-in"),
        (
            "ERROR: [youtube] abc: The uploader has not made this video available in your country",
            "region",
        ),
        ("ERROR: [BBC] x: This video is geo restricted", "region"),
        ("ERROR: Unsupported URL: https://example.com/", "no audio at that link"),
        ("ERROR: [generic] x: Requested format is not available", "no audio we can fetch"),
        ("ERROR: Unable to download webpage: HTTP Error 503", "did not answer"),
    ],
)
def test_the_extractors_failures_read_as_one_sentence(said, sentence):
    message = explain(said)
    assert sentence in message and message.endswith(".") and message.count(". ") == 0


@pytest.mark.django_db(transaction=True)
def test_a_running_import_is_cancelled_and_keeps_nothing(alice, media, monkeypatch, settings):
    settings.JAM_IMPORT_TIME_LIMIT_S = 60
    # Beats every tenth of a second, so the cancel is noticed at once, not in 5 s.
    monkeypatch.setitem(kinds._KINDS, "import", dataclasses.replace(IMPORT, heartbeat_every_s=0.1))
    track = import_submit(owner=alice, url=media.url("/slow.flac"))
    outcome = []

    def work() -> None:
        try:
            outcome.append(job_process("import", job_id=track.import_job.id))
        finally:
            connection.close()  # the thread's own connection

    worker = threading.Thread(target=work)
    worker.start()
    assert media.asked["/slow.flac"].wait(30)
    assert import_cancel(job=track.import_job)
    worker.join(30)
    assert outcome == [Outcome.CANCELLED]
    track.import_job.refresh_from_db()
    assert track.import_job.status == "cancelled"
    assert files.stored_in_folder(track.id) == []


@pytest.mark.django_db(transaction=True)
def test_an_import_stuck_on_a_slow_page_is_cancelled_without_waiting_for_the_page(
    alice, media, monkeypatch, settings
):
    # No media byte ever comes: the job's thread reports and beats while the extractor
    # waits on the page, so it notices the cancel, and the guard drops the connection.
    settings.JAM_IMPORT_TIME_LIMIT_S = 600
    monkeypatch.setitem(kinds._KINDS, "import", dataclasses.replace(IMPORT, heartbeat_every_s=0.1))
    track = import_submit(owner=alice, url=media.url("/slow.html"))
    outcome = []

    def work() -> None:
        try:
            outcome.append(job_process("import", job_id=track.import_job.id))
        finally:
            connection.close()

    worker = threading.Thread(target=work)
    worker.start()
    assert media.asked["/slow.html"].wait(30)
    assert import_cancel(job=track.import_job)
    worker.join(60)
    assert outcome == [Outcome.CANCELLED]
    assert files.stored_in_folder(track.id) == []


def test_a_cancelled_import_can_be_retried_and_then_fetches(alice, media):
    track = import_submit(owner=alice, url=media.url("/song.flac"))
    assert import_cancel(job=track.import_job)
    assert import_retry(job=track.import_job)
    assert job_process("import", job_id=track.import_job.id) == Outcome.DONE


def test_a_dead_workers_import_is_queued_again_and_failed_after_the_attempts_limit(
    alice, media, settings
):
    from jobs import state

    settings.IMPORT_MAX_ATTEMPTS = 2
    track = import_submit(owner=alice, url=media.url("/song.flac"))
    job_id = track.import_job.id
    for attempt in (1, 2):
        assert state.claim(ImportJob, pk=job_id, worker_id="otherhost:1:dead", phase="fetching")
        ImportJob.objects.filter(id=job_id).update(heartbeat_at="2000-01-01T00:00:00Z")
        jobs_sweep()
        job = ImportJob.objects.get(id=job_id)
        if attempt == 1:
            assert job.status == "queued"
    assert (job.status, job.error) == (
        "failed",
        "The worker stopped while fetching this song too many times.",
    )


def test_imports_past_the_hourly_rate_are_refused(alice, media, settings):
    settings.JAM_IMPORTS_PER_HOUR = 2
    import_submit(owner=alice, url=media.url("/song.flac"))
    import_submit(owner=alice, url=media.url("/song.flac"))
    with pytest.raises(ImportRefused, match="2 songs from links this hour"):
        import_submit(owner=alice, url=media.url("/song.flac"))
    assert Track.objects.count() == 2


def test_imports_count_with_separations_against_the_active_songs_limit(alice, media, settings):
    settings.JAM_USER_MAX_ACTIVE_JOBS = 1
    import_submit(owner=alice, url=media.url("/song.flac"))
    with pytest.raises(ImportRefused, match="the limit is 1"):
        import_submit(owner=alice, url=media.url("/song.flac"))


def test_an_operator_can_switch_imports_off(alice_client, media, settings):
    settings.JAM_IMPORT_ENABLED = False
    assert "switched off" in alice_client.get(reverse("imports:add")).content.decode()
    response = alice_client.post(reverse("imports:add"), {"url": media.url("/song.flac")})
    assert response.status_code == 400 and "switched off" in response.content.decode()
    assert not Track.objects.exists()


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("ftp://example.com/song.mp3", "starts with http:// or https://"),
        ("javascript:alert(1)", "starts with http:// or https://"),
        ("https://user:secret@example.com/", "user name or password"),
    ],
)
def test_links_that_cannot_be_fetched_are_refused_in_the_form(alice_client, url, reason):
    response = alice_client.post(reverse("imports:add"), {"url": url})
    assert response.status_code == 400 and reason in response.content.decode()
    assert not Track.objects.exists()


def test_the_track_page_shows_the_source_and_moderators_see_its_address(
    alice, alice_client, moderator, client, media
):
    track = fetched(alice, media.url("/page.html"))
    url = reverse("tracks:detail", args=[track.id])
    page = alice_client.get(url).content.decode()
    assert "From a link: “A song page" in page and "(0:16)" in page
    assert media.url("/page.html") in page
    client.force_login(moderator)
    assert media.url("/page.html") in client.get(url).content.decode()


def test_an_imported_track_can_be_reported_as_infringing_copyright(alice, bob, bob_client, media):
    from tests.factories import make_band
    from tracks.sharing import track_share

    track = fetched(alice, media.url("/song.flac"))
    band = make_band(owner=alice, members=[bob])
    track_share(track=track, by=alice, band_ids=[band.id], scope="jam")
    response = bob_client.post(
        reverse("tracks:report", args=[track.id]), {"reason": "copyright", "details": ""}
    )
    assert response.status_code == 302
    report = Report.objects.get()
    assert (report.reason, report.track.source_url) == ("copyright", media.url("/song.flac"))


def test_in_the_scale_out_mode_the_fetch_goes_to_the_imports_queue_once_committed(
    alice, sent_messages, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        track = import_submit(owner=alice, url="https://example.com/song")
        assert sent_messages == []
    assert sent_messages == [("imports.tasks.import_task", (track.import_job.id,), "imports")]


def test_the_guards_policy_is_read_from_the_operators_settings(settings):
    from imports.services import import_policy

    settings.JAM_IMPORT_ALLOW_DOMAINS = ["YouTube.com.", "googlevideo.com"]
    settings.JAM_IMPORT_BLOCK_DOMAINS = ["bad.example"]
    settings.JAM_IMPORT_PORTS = [80, 443, 8080]
    settings.JAM_IMPORT_PROXY = "http://proxy.internal:3128"
    settings.JAM_IMPORT_TEST_ALLOW = ""
    policy = import_policy()
    assert policy.allow_domains == ("youtube.com", "googlevideo.com")
    assert policy.block_domains == ("bad.example",)
    assert policy.ports == frozenset({80, 443, 8080})
    assert policy.upstream == ("proxy.internal", 3128)
    assert policy.test_allow is None


def test_the_test_allowance_names_a_127_0_0_1_address_only(settings):
    from imports.services import import_policy

    settings.JAM_IMPORT_TEST_ALLOW = "10.0.0.5:80"
    with pytest.raises(ValueError, match=r"only a 127\.0\.0\.1 address"):
        import_policy()
