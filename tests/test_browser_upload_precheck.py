"""An upload the owner's quota refuses anyway is answered from the request's head
(`separation.precheck`): in Chromium, the upload page shows the refusal's own message, not
a lost connection, though the server never read the body."""

import numpy as np
import pytest
import soundfile as sf

from tests.browsing import CHROMIUM_ARGS, serve, sign_up

pytestmark = [pytest.mark.browser, pytest.mark.model]


@pytest.fixture
def one_mb_quota_server(tmp_path, monkeypatch):
    monkeypatch.setenv("JAM_USER_QUOTA_MB", "1")
    yield from serve(tmp_path)


def test_an_upload_over_the_quota_shows_its_reason_in_the_page(
    chromium_path, one_mb_quota_server, tmp_path, screenshots
):
    from playwright.sync_api import sync_playwright

    server = one_mb_quota_server
    song = tmp_path / "big.wav"  # 30 s of stereo noise: ~5 MB, over the 1 MB quota
    noise = np.random.default_rng(1).uniform(-0.1, 0.1, (44_100 * 30, 2)).astype("float32")
    sf.write(song, noise, 44_100, subtype="PCM_16")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            sign_up(page, server, tmp_path / "serve.log")
            page.goto(f"{server}/tracks/upload/")
            page.set_input_files("#id_file", str(song))
            page.click("form[data-upload] button[type=submit]")
            error = page.locator("[data-role=upload-errors] li").first
            error.wait_for(timeout=30_000)
            page.screenshot(path=screenshots / "upload-precheck-quota.png", full_page=True)
            assert "bigger than the room left in your storage" in error.inner_text()
        finally:
            browser.close()
    assert "refused from its head" in (tmp_path / "serve.log").read_text()  # not the view
