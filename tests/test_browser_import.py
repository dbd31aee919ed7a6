"""A real browser adds a song from a link: the link is to a page with an <audio> element on
a media server on loopback (tests/imports/media_server.py), the only address the embedded
stack's guard lets through (JAM_IMPORT_TEST_ALLOW). The worker fetches it, the real model
separates it, and the track page plays the jam track. Screenshots go to $JAM_SCREENSHOTS
(default: the test's temporary folder)."""

import numpy as np
import pytest
import soundfile as sf

from tests.browsing import CHROMIUM_ARGS, ROOT, serve, sign_up
from tests.imports.media_server import MediaServer

CLIP = ROOT / "tests" / "data" / "dev1_vocadito10_loops" / "mix.flac"

pytestmark = [pytest.mark.browser, pytest.mark.model]


@pytest.fixture
def media(tmp_path):
    """The 16 s clip three times over, served as /song.flac under /page.html."""
    audio, rate = sf.read(CLIP, dtype="float32")
    path = tmp_path / "song.flac"
    sf.write(path, np.concatenate([audio] * 3), rate)
    with MediaServer(song=path) as server:
        yield server


@pytest.fixture
def site(media, tmp_path, monkeypatch):
    monkeypatch.setenv("JAM_IMPORT_TEST_ALLOW", media.address)
    yield from serve(tmp_path)


def test_a_musician_pastes_a_link_and_hears_the_jam_track(
    chromium_path, media, site, screenshots, tmp_path
):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1100, "height": 900})
            sign_up(page, site, tmp_path / "serve.log")

            page.click("nav a:has-text('Add from a link')")
            page.fill("#id_url", media.url("/page.html"))
            page.fill("#id_title", "From the page")
            assert "responsible for what you import" in page.inner_text("main")
            page.screenshot(path=screenshots / "import-0-form.png", full_page=True)
            page.click("#import-form button[type=submit]")
            page.wait_for_url("**/tracks/*-*-*-*-*/", timeout=60_000)
            page.evaluate("() => { window.notReloaded = true; }")
            page.screenshot(path=screenshots / "import-1-track-page-queued.png", full_page=True)

            # Fetched, separated by the real model, and the player appears in place.
            page.wait_for_selector(
                "[data-player][data-parts='instrumental vocals']", timeout=240_000
            )
            page.wait_for_selector(".track-detail [data-role=status-label]:has-text('Done')")
            assert media.paths[:2] == ["/page.html", "/song.flac"]
            source = page.inner_text("[data-role=source]")
            assert "From a link: “A song page” (0:48)" in source
            assert media.url("/page.html") in source  # the owner sees the address

            # Hear the jam track (the player starts at 0 %: the jam track alone): it plays
            # and its clock moves on.
            page.click("[data-player] [data-action=play]")
            page.wait_for_function(
                "() => { const p = document.querySelector('[data-player]').jamPlayer;"
                " return p && p.playing && p.position() > 0.5; }",
                timeout=60_000,
            )
            state = page.evaluate(
                """() => { const p = document.querySelector('[data-player]').jamPlayer;
                           return {notReloaded: window.notReloaded === true,
                                   playing: p.playing, duration: p.duration,
                                   parts: [...document.querySelectorAll('[data-stem]')]
                                          .map(n => n.dataset.stem)}; }"""
            )
            assert state["notReloaded"], "the track page reloaded itself"
            assert state["playing"] and state["duration"] > 40, state
            assert state["parts"] == ["instrumental", "vocals"]
            page.screenshot(path=screenshots / "import-2-track-page-playing.png", full_page=True)

            page.goto(f"{site}/")
            row = ".track-row:has(.track-title:has-text('From the page'))"
            page.wait_for_selector(f"{row}[data-status=done] [data-player]")
            page.screenshot(path=screenshots / "import-3-library.png", full_page=True)
        finally:
            browser.close()
