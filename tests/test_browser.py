"""A real browser against the real embedded stack (`manage.py serve`): sign up (following the
confirmation link printed in the terminal, as whoever runs it without an e-mail server does),
upload, watch the track page fill in place while the original plays on, play the jam track.
Screenshots go to $JAM_SCREENSHOTS (default: the test's temporary folder)."""

import numpy as np
import pytest
import soundfile as sf

from tests.browsing import CHROMIUM_ARGS, ROOT, sign_up

CLIP = ROOT / "tests" / "data" / "dev1_vocadito10_loops" / "mix.flac"

pytestmark = [pytest.mark.browser, pytest.mark.model]
# Notes each toast (its text, whether it says "done") in window.toastsSeen as it appears.
TOAST_LOG = """document.addEventListener("DOMContentLoaded", () => {
  window.toastsSeen = [];
  const box = document.getElementById("toasts");
  if (!box) return;
  new MutationObserver(changes => changes.forEach(change => change.addedNodes.forEach(node =>
    window.toastsSeen.push({text: node.textContent, done: node.classList.contains("done")})
  ))).observe(box, {childList: true});
});"""


@pytest.fixture
def song(tmp_path):
    """The 16 s clip three times over: long enough to still be playing when its separation
    (a few seconds here) is done."""
    audio, rate = sf.read(CLIP, dtype="float32")
    path = tmp_path / "Three times round.flac"
    sf.write(path, np.concatenate([audio] * 3), rate)
    return path


def test_a_musician_signs_up_uploads_and_plays_the_jam_track(
    chromium_path, server, song, screenshots, tmp_path
):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1100, "height": 900})

            def check_your_email(page):
                assert "printed in the terminal running JamWithMe" in page.inner_text("main")
                page.screenshot(path=screenshots / "0-sign-up-check-your-email.png", full_page=True)

            sign_up(page, server, tmp_path / "serve.log", on_sent=check_your_email)

            page.goto(f"{server}/tracks/upload/")
            page.set_input_files("#id_file", str(song))
            page.click("form[data-upload] button[type=submit]")
            page.wait_for_url("**/tracks/*-*-*-*-*/", timeout=60_000)

            # The track page, before separation is done: play the original, and mark the
            # page so that a reload would show.
            status_on_load = page.get_attribute(".track-detail", "data-status")
            assert status_on_load != "done", "separation finished before the page could watch it"
            page.evaluate("() => { window.notReloaded = true; }")
            page.click("[data-player] [data-action=play]")
            page.wait_for_function(
                "() => document.querySelector('[data-player]').jamPlayer.playing", timeout=60_000
            )
            page.screenshot(path=screenshots / "1-track-page-separating.png", full_page=True)

            # The player hands over to the stems, playing on from where the original was.
            page.wait_for_selector(
                "[data-player][data-parts='instrumental vocals']", timeout=180_000
            )
            page.wait_for_selector(".toast.done", timeout=10_000)
            page.wait_for_selector(".track-detail [data-role=status-label]:has-text('Done')")
            page.screenshot(path=screenshots / "2-track-page-done-in-place.png", full_page=True)
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
                                          .map(n => n.dataset.stem),
                                   downloads: [...document.querySelectorAll(
                                       '[data-role=downloads] [data-part]')]
                                       .map(n => n.dataset.part)}; }"""
            )
            assert state["notReloaded"], "the track page reloaded itself"
            assert state["playing"] and state["duration"] > 40, state  # plays on, now stems
            assert state["parts"] == ["instrumental", "vocals"]
            assert state["downloads"] == ["instrumental", "vocals"]
            assert page.locator(".track-detail > .meta").first.inner_text().count("FLAC") == 1

            # A second upload, watched from the library: its row changes without a reload.
            page.goto(f"{server}/tracks/upload/")
            page.set_input_files("#id_file", str(song))
            page.fill("#id_title", "Second take")
            assert page.is_checked("input[name=quality][value=standard]")  # the default
            page.screenshot(path=screenshots / "3-upload-form.png", full_page=True)
            page.click("form[data-upload] button[type=submit]")
            page.wait_for_url("**/tracks/*-*-*-*-*/", timeout=60_000)
            # Every toast the library shows is noted as it appears: a toast lives 6 s, and
            # on a fast machine the song can be done before the screenshot below is.
            page.add_init_script(TOAST_LOG)
            page.goto(f"{server}/")
            page.evaluate("() => { window.notReloaded = true; }")
            row = ".track-row:has(.track-title:has-text('Second take'))"
            assert page.get_attribute(row, "data-status") != "done"
            page.screenshot(path=screenshots / "4-library-separating.png", full_page=True)
            page.wait_for_selector(f"{row}[data-status=done] [data-player]", timeout=180_000)
            page.wait_for_function(
                "() => window.toastsSeen.some(t => t.done && t.text.includes('Second take'))",
                timeout=10_000,
            )
            assert page.evaluate("() => window.notReloaded === true")
            page.screenshot(path=screenshots / "5-library-done.png", full_page=True)
        finally:
            browser.close()
