"""What a first user meets, in a real browser against the real embedded stack (`manage.py
serve`, DEBUG off, the real worker and model): the front page and the error pages, a new
track appearing in a library tab opened before the upload, a running separation cancelled
from the library, its phases named as it runs, the disabled Upload button, and tap targets
on a phone. Screenshots go to $JAM_SCREENSHOTS (default: the test's temporary folder)."""

import sqlite3
import uuid

import numpy as np
import pytest
import soundfile as sf

from tests.browsing import CHROMIUM_ARGS, sign_up
from tests.test_browser import CLIP

pytestmark = [pytest.mark.browser, pytest.mark.model]

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1100, "height": 900}


@pytest.fixture
def long_song(tmp_path):
    """The 16 s clip twelve times over (3 min 12 s): its separation runs long enough here to
    be watched and cancelled."""
    audio, rate = sf.read(CLIP, dtype="float32")
    path = tmp_path / "mix.flac"
    sf.write(path, np.concatenate([audio] * 12), rate)
    return path


def job_row(tmp_path, title):
    with sqlite3.connect(tmp_path / "var" / "db.sqlite3") as db:
        return db.execute(
            "SELECT j.status, t.id FROM separation_separationjob j"
            " JOIN tracks_track t ON t.id = j.track_id WHERE t.title = ?"
            " ORDER BY t.created_at DESC",
            (title,),
        ).fetchone()


def tap_targets_below_44px(page) -> list[str]:
    """Buttons and stand-alone links (not links inside running text) under 44 px tall."""
    return page.evaluate(
        """() => [...document.querySelectorAll(
                   'button, .button, .topbar a, .tabs a, .track-title, .pagination a')]
             .filter(n => n.offsetParent !== null)
             .filter(n => n.getBoundingClientRect().height < 44)
             .map(n => n.outerHTML.slice(0, 80) + ' ' + n.getBoundingClientRect().height)"""
    )


def test_a_visitor_sees_what_jamwithme_is_and_styled_error_pages(
    chromium_path, server, screenshots
):
    from django.template.loader import render_to_string
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport=DESKTOP)
            page.goto(f"{server}/")
            assert "Take the vocals out of any song" in page.inner_text("h1")
            page.screenshot(path=screenshots / "edges-front-page.png", full_page=True)

            phone = browser.new_page(viewport=PHONE)
            phone.goto(f"{server}/")
            assert tap_targets_below_44px(phone) == []
            phone.screenshot(path=screenshots / "edges-front-page-phone.png", full_page=True)
            phone.click("main >> text=Sign up, it's free")
            phone.wait_for_url(f"{server}/accounts/signup/")

            response = page.goto(f"{server}/no/such/page/")
            assert response.status == 404
            assert page.inner_text("h1") == "There is nothing here"
            page.screenshot(path=screenshots / "edges-404.png", full_page=True)
            page.click("main >> text=Back to the front page")
            page.wait_for_url(f"{server}/")

            # The 500 page as Django's handler renders it (no request), shown with the
            # site's stylesheet from the running server.
            page.set_content(render_to_string("500.html"))
            assert page.inner_text("h1") == "Something went wrong on our side"
            colour = page.evaluate(
                "() => getComputedStyle(document.querySelector('main .button')).backgroundColor"
            )
            assert colour == "rgb(37, 99, 235)"  # the stylesheet's --accent: styled
            page.screenshot(path=screenshots / "edges-500.png", full_page=True)
        finally:
            browser.close()


def test_a_new_track_appears_in_an_open_library_tab_and_its_separation_can_be_cancelled(
    chromium_path, server, long_song, screenshots, tmp_path
):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(viewport=DESKTOP)
            page = context.new_page()
            sign_up(page, server, tmp_path / "serve.log")

            # A second tab on the (empty) library, opened before the upload.
            library = context.new_page()
            # The page's sockets, and a switch that keeps it from reconnecting (its new
            # sockets go to an address the site does not serve while `offline` is on: on
            # this origin, as the Content-Security-Policy's connect-src allows no other).
            library.add_init_script(
                """(() => { const Real = window.WebSocket; window.sockets = [];
                   window.WebSocket = function (url) {
                     const socket = new Real(
                       window.offline ? url.replace('/ws/notifications/', '/ws/offline/') : url);
                     window.sockets.unshift(socket); return socket; };
                   window.WebSocket.prototype = Real.prototype; })()"""
            )
            library.goto(f"{server}/")
            library.evaluate("() => { window.notReloaded = true; }")
            assert library.locator(".track-row").count() == 0

            # The disabled Upload button looks disabled.
            page.goto(f"{server}/tracks/upload/")
            button = page.locator("form[data-upload] button[type=submit]")
            enabled = button.evaluate("b => getComputedStyle(b).backgroundColor")
            button.evaluate("b => { b.disabled = true; }")
            disabled = button.evaluate("b => getComputedStyle(b).backgroundColor")
            cursor = button.evaluate("b => getComputedStyle(b).cursor")
            page.screenshot(path=screenshots / "edges-upload-disabled.png")
            assert (enabled, cursor) == ("rgb(37, 99, 235)", "not-allowed")
            assert disabled != enabled
            button.evaluate("b => { b.disabled = false; }")

            page.set_input_files("#id_file", str(long_song))
            page.click("form[data-upload] button[type=submit]")
            page.wait_for_url("**/tracks/*-*-*-*-*/", timeout=60_000)

            # The library tab lists it, live, with what tells it apart.
            row = library.locator(".track-row:has(.track-title:has-text('mix'))")
            row.wait_for(timeout=15_000)
            assert library.evaluate("() => window.notReloaded === true")
            assert "from “mix.flac”" in row.locator(".meta").inner_text()
            assert "3:12" in row.locator(".meta").inner_text()

            # Cancel while it runs: the worker stops and keeps nothing.
            row.locator("[data-role=status-label]:has-text('%')").wait_for(timeout=120_000)
            library.screenshot(path=screenshots / "edges-library-running.png", full_page=True)
            row.locator("button:has-text('Cancel')").click()
            library.wait_for_selector(".message:has-text('cancelled')")
            row = library.locator(".track-row:has(.track-title:has-text('mix'))")
            assert row.locator("[data-role=status-label]").inner_text() == "Cancelled"
            library.screenshot(path=screenshots / "edges-library-cancelled.png", full_page=True)
            status, track_id = job_row(tmp_path, "mix")
            assert status == "cancelled"
            log = tmp_path / "serve.log"
            for _ in range(300):  # the worker's next progress report finds it cancelled
                if "was cancelled; stopped" in log.read_text():
                    break
                page.wait_for_timeout(100)
            assert "was cancelled; stopped" in log.read_text()
            media = tmp_path / "var" / "media" / "tracks" / str(uuid.UUID(track_id))
            assert sorted(p.name for p in media.iterdir()) == ["original.flac"]

            # Retried, the library names each phase as the job goes through it.
            row.locator("button:has-text('Retry')").click()
            library.wait_for_selector(".message:has-text('queued again')")
            library.evaluate(
                """() => { window.labels = [];
                   const note = () => { const l = document.querySelector(
                       '.track-row [data-role=status-label]');
                     if (l && window.labels[window.labels.length - 1] !== l.textContent)
                       window.labels.push(l.textContent); };
                   new MutationObserver(note).observe(document.querySelector('.track-list'),
                       {subtree: true, childList: true, characterData: true});
                   note(); }"""
            )
            library.wait_for_selector(
                ".track-row[data-status=done] [data-role=status-label]:has-text('Done')",
                timeout=240_000,
            )
            labels = library.evaluate("() => window.labels")
            print("status labels seen:", labels)
            assert any(label.startswith("Separating ") for label in labels), labels
            assert any(label.startswith("Drawing waveforms ") for label in labels), labels
            assert labels[-1] == "Done"
            percents = [int(label.rsplit(" ", 1)[1][:-1]) for label in labels if "%" in label]
            assert percents == sorted(percents), labels

            # A track uploaded while the library tab's socket is away is listed once it is
            # back (the event it missed never comes again).
            library.evaluate(
                "() => { window.notReloaded = true; window.offline = true;"
                " window.sockets[0].close(); }"
            )
            page.goto(f"{server}/tracks/upload/")
            page.set_input_files("#id_file", str(CLIP))
            page.fill("#id_title", "Second take")
            page.click("form[data-upload] button[type=submit]")
            page.wait_for_url("**/tracks/*-*-*-*-*/", timeout=60_000)
            second = library.locator(".track-row:has(.track-title:has-text('Second take'))")
            # Away: the tab's next try to reconnect, made after the upload, fails; by then
            # nothing arrived (the only way it could hear of the track is a socket).
            tried = library.evaluate("() => window.sockets.length")
            library.wait_for_function(
                f"() => window.sockets.length > {tried} && window.sockets[0].readyState === 3",
                timeout=60_000,
            )
            assert second.count() == 0
            library.evaluate("() => { window.offline = false; }")
            second.wait_for(timeout=60_000)  # the next reconnect (backing off) lists it
            assert library.evaluate("() => window.notReloaded === true")
            assert library.locator(".track-row").count() == 2

            # On a phone: every button and stand-alone link is a 44 px target.
            phone = context.new_page()
            phone.set_viewport_size(PHONE)
            phone.goto(f"{server}/")
            assert tap_targets_below_44px(phone) == []
            phone.screenshot(path=screenshots / "edges-library-phone.png", full_page=True)
            phone.goto(f"{server}/tracks/upload/")
            phone.screenshot(path=screenshots / "edges-upload-phone.png", full_page=True)
        finally:
            browser.close()
