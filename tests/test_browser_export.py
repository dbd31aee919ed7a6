"""A real browser exports a practice mix from the track page (no player needed): vocals at
10 %, 75 % tempo, a tone down, MP3 — the line appears, follows the render live, and the
download is that file. Screenshots (desktop and phone) go to $JAM_SCREENSHOTS."""

import io
from pathlib import Path

import pytest
import soundfile as sf

from tests.browsing import CHROMIUM_ARGS, ROOT, sign_up

CLIP = ROOT / "tests" / "data" / "dev1_vocadito10_loops" / "mix.flac"

pytestmark = [pytest.mark.browser, pytest.mark.model]


def test_a_musician_exports_a_slow_transposed_practice_mix_from_the_track_page(
    chromium_path, server, screenshots, tmp_path
):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1100, "height": 900}, accept_downloads=True)
            sign_up(page, server, tmp_path / "serve.log")

            page.goto(f"{server}/tracks/upload/")
            page.set_input_files("#id_file", str(CLIP))
            page.click("form[data-upload] button[type=submit]")
            page.wait_for_url("**/tracks/*-*-*-*-*/", timeout=60_000)
            page.wait_for_selector(
                "[data-player][data-parts='instrumental vocals']", timeout=180_000
            )
            page.reload()  # the Export section comes with a separated track's page

            page.get_by_label("Vocals in the mix").select_option("0.1")
            page.get_by_label("Tempo", exact=True).select_option("0.75")
            page.get_by_label("Key (semitones)").select_option("-2")
            page.get_by_label("Format", exact=True).select_option("mp3")
            page.get_by_role("button", name="Export", exact=True).click()
            page.wait_for_url("**#exports")
            item = page.locator("[data-render-id]").first
            assert "Mix, vocals 10 %, tempo 75 %, -2 semitones, MP3" in item.inner_text()
            page.screenshot(path=screenshots / "export-1-asked.png", full_page=True)
            link = item.locator("[data-role=render-download]")
            link.wait_for(state="visible", timeout=120_000)
            page.wait_for_selector(".toast.done", timeout=10_000)
            page.screenshot(path=screenshots / "export-2-ready.png", full_page=True)

            with page.expect_download() as downloading:
                link.click()
            download = downloading.value
            assert download.suggested_filename.endswith(" - mix-v10-t75-k-2.mp3")
            data = io.BytesIO(Path(download.path()).read_bytes())
            info = sf.info(data)
            original = sf.info(str(CLIP))
            assert info.format == "MP3"
            want = original.duration / 0.75
            assert abs(info.duration - want) <= 0.01 * want, (info.duration, want)

            phone = browser.new_page(viewport={"width": 390, "height": 844})
            phone.context.add_cookies(page.context.cookies())
            phone.goto(page.url)
            phone.locator("#exports").scroll_into_view_if_needed()
            phone.screenshot(path=screenshots / "export-3-phone.png", full_page=True)
        finally:
            browser.close()
