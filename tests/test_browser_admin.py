"""Django's admin under the site's strict Content-Security-Policy, in the real Chromium: a
superuser signs in and goes through the pages staff use (the user list with its filters and
actions, a user's change page with its widgets, the audit log). tests/conftest.py's
watch_csp fails the test on any violation."""

import os
import subprocess
import sys

import pytest

from tests.browsing import CHROMIUM_ARGS, PASSWORD, ROOT

pytestmark = pytest.mark.browser


def create_superuser(tmp_path) -> None:
    """In the server's own database (serve's JAM_VAR_DIR), as an operator would."""
    env = {
        **os.environ,
        "JAM_VAR_DIR": str(tmp_path / "var"),
        "DEBUG": "false",
        "DJANGO_SUPERUSER_PASSWORD": PASSWORD,
    }
    env.pop("DATABASE_URL", None)
    env.pop("REDIS_URL", None)
    subprocess.run(
        [
            *(sys.executable, "manage.py", "createsuperuser", "--noinput"),
            *("--username", "root", "--email", "root@example.com"),
        ],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
    )


def test_the_admin_works_under_the_content_security_policy(
    server, chromium_path, screenshots, tmp_path
):
    from playwright.sync_api import sync_playwright

    create_superuser(tmp_path)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1200, "height": 900})
            response = page.goto(f"{server}/admin/login/")
            assert "'unsafe-inline'" not in response.headers["content-security-policy"]
            page.fill("#id_username", "root")
            page.fill("#id_password", PASSWORD)
            page.click("input[type=submit]")
            page.wait_for_url(f"{server}/admin/")
            page.click("a[href='/admin/auth/user/']")
            page.wait_for_selector("#changelist")
            page.click("#changelist-filter a >> nth=1")  # a filter (the sidebar's own script)
            page.wait_for_selector("#changelist")
            page.goto(f"{server}/admin/auth/user/")
            page.click("#result_list th.field-username a")  # root's change page: its widgets
            page.wait_for_selector("#user_form")
            # The permission picker (SelectFilter2.js) builds its two boxes in the page.
            page.wait_for_selector("#id_user_permissions_from")
            page.screenshot(path=screenshots / "admin-1-user-change.png", full_page=True)
            page.click("#id_user_permissions_add_all")
            page.goto(f"{server}/admin/auth/user/")
            page.check("#action-toggle")
            page.select_option("select[name=action]", index=1)
            page.screenshot(path=screenshots / "admin-2-user-list.png")
            page.goto(f"{server}/admin/audit/")
            page.wait_for_selector("#content")
        finally:
            browser.close()
