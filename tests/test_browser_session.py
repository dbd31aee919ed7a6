"""A real browser against the real embedded stack (`manage.py serve`): an open page learns at
once that its session ended and says why — a moderator suspended the account, or the user
logged out in another tab — and what was typed there is kept. Screenshots go to
$JAM_SCREENSHOTS (default: the test's temporary folder)."""

import os
import subprocess
import sys

import pytest

from tests.browsing import CHROMIUM_ARGS, PASSWORD, ROOT

pytestmark = [pytest.mark.browser]
DESKTOP = {"width": 1100, "height": 800}
BAND = "The Night Shift"


@pytest.fixture
def accounts(server, tmp_path):
    """alice and mona (moderator), in the database the server uses."""
    code = f"""
from django.contrib.auth.models import Permission, User
User.objects.create_user("alice", "alice@example.com", {PASSWORD!r})
mona = User.objects.create_user("mona", "mona@example.com", {PASSWORD!r}, is_staff=True)
mona.user_permissions.add(Permission.objects.get(codename="moderate_track"))
"""
    env = {**os.environ, "JAM_VAR_DIR": str(tmp_path / "var"), "DEBUG": "false"}
    env.pop("DATABASE_URL", None)
    subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", code], cwd=ROOT, env=env, check=True
    )


def log_in(page, server, username, *, admin=False, then=None):
    page.goto(f"{server}/{'admin' if admin else 'accounts'}/login/")
    fill_log_in(page, username, admin=admin)
    if then:
        page.wait_for_url(then)


def fill_log_in(page, username, *, admin=False):
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]" if admin else "main button[type=submit]")
    page.wait_for_load_state()


def test_an_open_page_says_at_once_that_its_user_was_suspended(
    chromium_path, server, accounts, screenshots
):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
        try:
            alice = browser.new_context(viewport=DESKTOP).new_page()
            log_in(alice, server, "alice", then=f"{server}/")
            alice.goto(f"{server}/bands/new/")
            alice.fill("input[name=name]", BAND)
            alice.wait_for_selector("body[data-socket=open]")

            mona = browser.new_context(viewport=DESKTOP).new_page()
            log_in(mona, server, "mona", admin=True)
            mona.goto(f"{server}/admin/auth/user/")
            mona.check("tr:has(a:text-is('alice')) input.action-select")
            mona.select_option("select[name=action]", "suspend")
            mona.click("button[name=index]")
            mona.fill("#id_reason", "Uploads of other people's records.")
            mona.click("input[name=apply]")
            mona.wait_for_selector("text=Suspend: 1 of 1.")

            # Alice's open page says so, with no reload, and keeps her typing.
            banner = alice.wait_for_selector("#session-banner", timeout=10_000)
            assert "suspended your account" in banner.inner_text()
            assert alice.input_value("input[name=name]") == BAND
            alice.screenshot(path=screenshots / "session-1-suspended-open-page.png")

            # A reload lands on the log-in page, which says why rather than a bare form.
            alice.reload()
            alice.wait_for_url(f"{server}/accounts/login/**")
            notice = alice.inner_text("main [role=alert]")
            assert "suspended your account" in notice
            assert "Uploads of other people's records." in notice
            alice.screenshot(path=screenshots / "session-2-suspended-after-reload.png")
        finally:
            browser.close()


def test_logging_out_in_one_tab_makes_another_say_so_and_keep_what_was_typed(
    chromium_path, server, accounts, screenshots
):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(viewport=DESKTOP)
            tab_a = context.new_page()
            log_in(tab_a, server, "alice", then=f"{server}/")
            tab_b = context.new_page()
            tab_b.goto(f"{server}/bands/new/")
            tab_b.fill("input[name=name]", BAND)
            tab_b.wait_for_selector("body[data-socket=open]")

            tab_a.click("form[action$='/logout/'] button")
            tab_a.wait_for_url(f"{server}/accounts/login/")

            # Tab B says so at once: the socket knew.
            banner = tab_b.wait_for_selector("#session-banner", timeout=10_000)
            assert "You were signed out" in banner.inner_text()
            assert "what you typed here is kept" in banner.inner_text()
            tab_b.screenshot(path=screenshots / "session-3-signed-out-in-another-tab.png")

            # Sending the form now would bounce it to the log-in page: it is held.
            tab_b.click("main button[type=submit]")
            tab_b.wait_for_selector("#session-banner:has-text('Still signed out')")
            assert tab_b.url == f"{server}/bands/new/"

            # A reload goes to the log-in page; signing in comes back with the typing.
            tab_b.reload()
            tab_b.wait_for_url(f"{server}/accounts/login/?next=/bands/new/")
            fill_log_in(tab_b, "alice")
            tab_b.wait_for_url(f"{server}/bands/new/")
            tab_b.wait_for_selector("#session-banner.restored")
            assert tab_b.input_value("input[name=name]") == BAND
            tab_b.screenshot(path=screenshots / "session-4-typing-restored.png")
            tab_b.click("main button[type=submit]")
            tab_b.wait_for_url("**/bands/*-*-*-*-*/")
            assert BAND in tab_b.inner_text("main h1")
        finally:
            browser.close()
