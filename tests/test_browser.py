"""A real browser against the real embedded stack (`manage.py serve`): sign up, upload,
watch the status become done, and play the jam track."""

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = Path("/usr/bin/chromium")
CLIP = ROOT / "tests" / "data" / "dev1_vocadito10_loops" / "mix.flac"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

pytestmark = [pytest.mark.browser, pytest.mark.model]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def chromium_path():
    if not CHROMIUM.exists():
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} is missing; install Debian's chromium package")
        pytest.skip(f"{CHROMIUM} is not installed")
    return str(CHROMIUM)


@pytest.fixture
def server(tmp_path):
    port = free_port()
    env = {**os.environ, "JAM_VAR_DIR": str(tmp_path / "var"), "DEBUG": "false"}
    env.pop("DATABASE_URL", None)
    env.pop("REDIS_URL", None)
    log = (tmp_path / "serve.log").open("w")
    process = subprocess.Popen(
        [sys.executable, "manage.py", "serve", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                pytest.fail("serve did not start:\n" + (tmp_path / "serve.log").read_text())
            time.sleep(0.3)
    yield url
    process.send_signal(2)  # Ctrl-C
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    log.close()


def test_a_musician_signs_up_uploads_and_plays_the_jam_track(chromium_path, server):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            page.goto(f"{server}/accounts/signup/")
            page.fill("#id_username", "erin")
            page.fill("#id_email", "erin@example.com")
            page.fill("#id_password1", "Strum-the-chords-77")
            page.fill("#id_password2", "Strum-the-chords-77")
            page.click("main button[type=submit]")
            page.wait_for_url(f"{server}/")

            page.goto(f"{server}/tracks/upload/")
            page.set_input_files("#id_file", str(CLIP))
            page.click("form[data-upload] button[type=submit]")
            page.wait_for_url("**/tracks/*-*-*-*-*/", timeout=60_000)

            page.goto(f"{server}/")
            status_on_load = page.get_attribute(".track-row", "data-status")
            # The row changes without a reload: the WebSocket event re-fetches it.
            page.wait_for_selector(".track-row[data-status=done] audio", timeout=180_000)
            if status_on_load != "done":  # it was still separating when the page opened
                page.wait_for_selector(".toast.done", timeout=10_000)

            page.click(".track-title")
            page.wait_for_function(
                "() => { const a = document.querySelector('#instrumental-audio');"
                " return a && a.readyState >= 1 && a.duration > 15; }",
                timeout=30_000,
            )
        finally:
            browser.close()
