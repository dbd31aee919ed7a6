"""A real browser, three musicians and a moderator, against the real embedded stack
(`manage.py serve`): the owner shares a jam track with a band, the bandmate gets the live
notice and plays it, an outsider gets 404s, and once a moderator hides the track after a
report the bandmate's open page loses it at once. Screenshots go to $JAM_SCREENSHOTS."""

import subprocess
import sys

import pytest

from tests.browsing import CHROMIUM_ARGS, PASSWORD, ROOT

pytestmark = [pytest.mark.browser, pytest.mark.model]
CLIP = ROOT / "tests" / "data" / "dev1_vocadito10_loops" / "mix.flac"


@pytest.fixture
def accounts(server, tmp_path):
    """alice (owner), bob (bandmate), carol (outsider) and mona (moderator), made in the
    same database the server uses."""
    import os

    code = f"""
from django.contrib.auth.models import Permission, User
for name in ("alice", "bob", "carol"):
    User.objects.create_user(name, name + "@example.com", {PASSWORD!r})
mona = User.objects.create_user("mona", "mona@example.com", {PASSWORD!r}, is_staff=True)
mona.user_permissions.add(Permission.objects.get(codename="moderate_track"))
"""
    env = {**os.environ, "JAM_VAR_DIR": str(tmp_path / "var"), "DEBUG": "false"}
    env.pop("DATABASE_URL", None)
    subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", code], cwd=ROOT, env=env, check=True
    )


def log_in(browser, server, username, *, admin=False):
    context = browser.new_context(viewport={"width": 1100, "height": 900})
    page = context.new_page()
    page.goto(f"{server}/{'admin' if admin else 'accounts'}/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]" if admin else "main button[type=submit]")
    page.wait_for_load_state()
    return page


def test_a_band_shares_a_jam_track_and_a_moderator_hides_it(
    chromium_path, server, accounts, screenshots
):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
        try:
            alice = log_in(browser, server, "alice")
            bob = log_in(browser, server, "bob")

            # Alice uploads a song and waits for its jam track.
            alice.goto(f"{server}/tracks/upload/")
            alice.set_input_files("#id_file", str(CLIP))
            alice.fill("#id_title", "Bossa for the band")
            alice.click("form[data-upload] button[type=submit]")
            alice.wait_for_url("**/tracks/*-*-*-*-*/", timeout=60_000)
            track_url = alice.url
            alice.wait_for_selector("[data-player] [data-stem=instrumental]", timeout=180_000)

            # She starts a band and invites Bob, whose open page hears of it at once.
            bob.goto(f"{server}/bands/")
            alice.goto(f"{server}/bands/new/")
            alice.fill("input[name=name]", "The Cats")
            alice.click("main button[type=submit]")
            alice.wait_for_url("**/bands/*-*-*-*-*/")
            band_url = alice.url
            alice.fill("input[name=username_or_email]", "bob")
            alice.click("form.band-invite button[type=submit]")
            bob.wait_for_selector(".toast", timeout=10_000)
            bob.wait_for_selector("button[value=accept]", timeout=10_000)
            bob.screenshot(path=screenshots / "bands-1-bob-invited-live.png", full_page=True)
            bob.click("button[value=accept]")
            bob.wait_for_load_state()

            # Bob waits on "Shared with you"; Alice shares the jam track (no vocals).
            bob.goto(f"{server}/shared/")
            alice.goto(track_url)
            alice.check("input[name=band]")
            alice.click("section.sharing button[type=submit]")
            alice.wait_for_selector(".message.success")
            alice.screenshot(path=screenshots / "bands-2-alice-shared.png", full_page=True)
            bob.wait_for_selector(".toast:has-text('shared')", timeout=10_000)
            row = ".track-row:has(.track-title:has-text('Bossa for the band'))"
            bob.wait_for_selector(row, timeout=10_000)  # the list gained it, no reload
            bob.screenshot(path=screenshots / "bands-3-bob-notified.png", full_page=True)

            # Bob opens it, plays the jam track, and sees no vocals.
            bob.click(f"{row} .track-title")
            bob.wait_for_url(track_url)
            parts = bob.eval_on_selector_all("[data-stem]", "ns => ns.map(n => n.dataset.stem)")
            assert parts == ["instrumental"]  # the player fetches no vocals for him
            assert "/vocals" not in bob.content()
            bob.click("[data-player] [data-action=play]")
            bob.wait_for_function(
                "() => document.querySelector('[data-player]').jamPlayer.position() > 0.5",
                timeout=30_000,
            )
            bob.screenshot(path=screenshots / "bands-4-bob-plays.png", full_page=True)
            audio_url = bob.get_attribute("[data-stem=instrumental]", "data-audio")

            # Carol, in no band of Alice's, gets 404 on every URL of it.
            carol = log_in(browser, server, "carol")
            for url in (track_url, f"{server}{audio_url}", band_url):
                assert carol.goto(url).status == 404, url
            carol.goto(track_url)
            carol.screenshot(path=screenshots / "bands-5-carol-404.png", full_page=True)

            # Bob reports it; Mona hides it from the admin's report queue.
            bob.click("details.report summary")
            bob.select_option("select[name=reason]", "copyright")
            bob.click("details.report button[type=submit]")
            bob.wait_for_selector(".message.success")
            bob.click("[data-player] [data-action=play]")
            mona = log_in(browser, server, "mona", admin=True)
            mona.goto(f"{server}/admin/")  # the queue is a moderator's front page
            mona.screenshot(path=screenshots / "bands-6-report-queue.png", full_page=True)
            mona.click("[data-role=queue] a:has-text('Bossa for the band')")
            mona.fill("#hide-reason", "Copyright claim from the publisher")
            mona.fill("#hide-message", "A publisher claimed this recording.")
            mona.screenshot(path=screenshots / "bands-7-reason.png", full_page=True)
            mona.click("form[data-action=hide] input[type=submit]")
            mona.wait_for_selector(".messagelist")

            # Bob's open page loses the track at once: players stop, a notice says why.
            bob.wait_for_selector(".track-detail .notice", timeout=10_000)
            assert bob.evaluate("() => document.querySelectorAll('[data-player]').length") == 0
            bob.screenshot(path=screenshots / "bands-8-bob-lost-it.png", full_page=True)
            assert bob.goto(track_url).status == 404
            assert bob.goto(f"{server}{audio_url}").status == 404

            # Alice still sees it, marked hidden, with the message (the reason is the log's).
            alice.goto(track_url)
            notice = alice.inner_text("[data-role=moderation-notice]")
            assert "A publisher claimed this recording." in notice
            assert "Copyright claim from the publisher" not in notice
            alice.screenshot(path=screenshots / "bands-9-alice-hidden.png", full_page=True)
            mona.goto(f"{server}/admin/audit/auditentry/")
            assert "track.hide" in mona.inner_text("#result_list")
            mona.screenshot(path=screenshots / "bands-10-audit-log.png", full_page=True)
        finally:
            browser.close()
