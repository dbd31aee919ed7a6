"""A real browser against the real embedded stack (`manage.py serve`): bob reports alice's
track; the moderator finds it on the admin's front page (the queue), reviews it with the
practice player, and hides it with a message from a template; alice's open page shows the
notice at once, her e-mail (printed in the terminal) carries the message and never the
reason, and bob's "Shared with you" shows its empty-state text when the track goes.
Screenshots go to $JAM_SCREENSHOTS. The track is separated by the fake engine before the
server starts (no model needed)."""

import os
import re
import subprocess
import sys

import pytest

from tests.browsing import CHROMIUM_ARGS, PASSWORD, ROOT, serve

pytestmark = pytest.mark.browser

REASON = "bob says it is his cousin's recording"


@pytest.fixture
def server(tmp_path):
    """alice (owner), bob (her bandmate) and mona (moderator), alice's separated track
    shared with their band; made before the server starts, so its worker finds it done."""
    code = f"""
from pathlib import Path
from django.contrib.auth.models import Permission, User
from tests.factories import make_band, make_track
from tracks.sharing import track_share
alice, bob = (
    User.objects.create_user(n, n + "@example.com", {PASSWORD!r}) for n in ("alice", "bob")
)
mona = User.objects.create_user("mona", "mona@example.com", {PASSWORD!r}, is_staff=True)
mona.user_permissions.add(Permission.objects.get(codename="moderate_track"))
band = make_band(owner=alice, name="The Cats", members=[bob])
track = make_track(owner=alice, tmp_path=Path({str(tmp_path)!r}), title="Bossa for review",
                   separated=True, seconds=4.0)
track_share(track=track, by=alice, band_ids=[band.id], scope="jam")
print("TRACK", track.id)
"""
    env = {**os.environ, "JAM_VAR_DIR": str(tmp_path / "var"), "DEBUG": "false"}
    env.pop("DATABASE_URL", None)
    env.pop("REDIS_URL", None)
    run = dict(cwd=ROOT, env=env, check=True, capture_output=True, text=True)
    subprocess.run([sys.executable, "manage.py", "migrate", "-v", "0"], **run)
    made = subprocess.run([sys.executable, "manage.py", "shell", "-c", code], **run)
    server_url = None
    for url in serve(tmp_path):
        server_url = url
        yield url, re.search(r"TRACK (\S+)", made.stdout).group(1)
    assert server_url


def log_in(browser, server, username, *, admin=False):
    context = browser.new_context(viewport={"width": 1200, "height": 900})
    page = context.new_page()
    page.goto(f"{server}/{'admin' if admin else 'accounts'}/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]" if admin else "main button[type=submit]")
    page.wait_for_load_state()
    return page


def owner_mail(log) -> str:
    text = log.read_text()
    start = text.rfind("To: alice@example.com")
    return text[start : start + 2000] if start >= 0 else ""


def test_a_report_goes_from_bob_to_the_queue_and_a_hide_tells_alice_at_once(
    chromium_path, server, screenshots, tmp_path
):
    from playwright.sync_api import sync_playwright

    url, track_id = server
    track_url = f"{url}/tracks/{track_id}/"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
        try:
            alice = log_in(browser, url, "alice")
            alice.goto(track_url)  # her pages stay open: the track's, and her library
            alice.wait_for_selector("[data-player] [data-stem=instrumental]")
            library = alice.context.new_page()
            library.goto(f"{url}/")
            library.wait_for_selector(".track-row")

            # Bob reports it from the track page, with details, then waits on "Shared with you".
            bob = log_in(browser, url, "bob")
            bob.goto(track_url)
            bob.click("details.report summary")
            bob.select_option("select[name=reason]", "copyright")
            bob.fill("textarea[name=details]", "It is the album cut from 1964.")
            bob.click("details.report button[type=submit]")
            bob.wait_for_selector(".message.success")
            bob.goto(f"{url}/shared/")
            bob.wait_for_selector(".track-row")
            assert bob.is_hidden("[data-role=empty]")

            # Mona's admin front page is the queue.
            mona = log_in(browser, url, "mona", admin=True)
            mona.goto(f"{url}/admin/")
            queue = mona.inner_text("[data-role=queue]")
            assert "1 open report on 1 track" in queue and "Bossa for review" in queue
            mona.screenshot(path=screenshots / "moderation-1-queue.png", full_page=True)

            # The review page: the player for every part, the report with its details.
            mona.click("[data-role=queue] a:has-text('Bossa for review')")
            mona.wait_for_selector("[data-player] [data-stem=vocals]")
            stems = mona.eval_on_selector_all("[data-stem]", "ns => ns.map(n => n.dataset.stem)")
            assert stems == ["instrumental", "vocals"]
            assert "It is the album cut from 1964." in mona.inner_text("#reports-heading + table")
            mona.click("[data-player] [data-action=play]")
            mona.wait_for_function(
                "() => document.querySelector('[data-player]').jamPlayer.position() > 0.3",
                timeout=30_000,
            )
            mona.click("[data-player] [data-action=play]")  # pause
            mona.screenshot(path=screenshots / "moderation-2-review.png", full_page=True)

            # Hide, with a reason for the log and the "Copyright claim" message to the owner.
            mona.fill("#hide-reason", REASON)
            mona.select_option("#hide-template", "copyright")
            message = mona.input_value("#hide-message")
            assert message.startswith("We received a copyright claim")
            mona.click("form[data-action=hide] input[type=submit]")
            mona.wait_for_selector(".messagelist .success")
            assert "Hidden since" in mona.inner_text("[data-role=visibility]")

            # Alice's open pages say so at once, with the message and never the reason: the
            # track's page in place, her library in a notice at the top.
            notice = alice.wait_for_selector(
                f"[data-role=moderation-notice]:has-text('{message[:30]}')", timeout=10_000
            )
            assert "The moderators hid this track" in notice.inner_text()
            assert "cousin" not in alice.content()
            alice.screenshot(path=screenshots / "moderation-3-owner-notice.png", full_page=True)
            banner = library.wait_for_selector("[data-role=moderation-banner]", timeout=10_000)
            text = banner.inner_text()
            assert "The moderators hid “Bossa for review”" in text and message in text
            assert "cousin" not in library.content()
            library.screenshot(
                path=screenshots / "moderation-4-owner-library-notice.png", full_page=True
            )

            # Her e-mail (the console backend prints it in serve's terminal).
            log = tmp_path / "serve.log"
            mail = ""
            for _ in range(50):
                mail = owner_mail(log)
                if message[:40] in mail:
                    break
                alice.wait_for_timeout(200)
            assert "hid =E2=80=9CBossa for review" in mail or "hid “Bossa for review" in mail
            assert message[:40] in mail.replace("=\n", "")
            assert f"{track_url}" in mail.replace("=\n", "")  # the port the site runs on
            assert "cousin" not in log.read_text()

            # Bob's "Shared with you" lost it, live, and says the list is empty.
            bob.wait_for_selector("[data-role=empty]", state="visible", timeout=10_000)
            assert bob.query_selector(".track-row") is None
            bob.wait_for_selector(".toast:has-text('looked at your report')", timeout=10_000)
            bob.screenshot(path=screenshots / "moderation-5-bob-shared-empty.png", full_page=True)
        finally:
            browser.close()
