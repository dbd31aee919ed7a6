"""What the browser tests share: the real Chromium, and `manage.py serve` on a free port
with its own database and media, its output kept in the test's folder (serve.log)."""

import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.ports import bound_socket

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--autoplay-policy=no-user-gesture-required",
    "--mute-audio",
]


PASSWORD = "Strum-the-chords-77"

# Every page reports each Content-Security-Policy violation on its console, as Chromium's own
# "Refused to ..." messages may not name them all (a blocked style in a shadow root, say).
CSP_LISTENER = """document.addEventListener("securitypolicyviolation", (e) => console.error(
  "CSP violation: " + e.effectiveDirective + " blocked " + (e.blockedURI || "inline") +
  " at " + e.sourceFile + ":" + e.lineNumber + " " + e.sample), true);"""


class CspWatch:
    """Collects the CSP violations of every page of every context the test's browser opens
    (`watch_csp` in tests/conftest.py attaches it): asserted empty at the test's end."""

    def __init__(self):
        self.violations: list[str] = []

    def attach(self, context) -> None:
        if getattr(context, "_jam_csp_watched", False):
            return
        context._jam_csp_watched = True
        context.add_init_script(CSP_LISTENER)
        context.on("console", self._console)

    def _console(self, message) -> None:
        text = message.text
        if "CSP violation" in text or "Content Security Policy" in text:
            self.violations.append(f"{message.location.get('url', '')}: {text}")


def csp_reports(log: Path) -> list[str]:
    """The violations browsers reported to the server (jamwithme.views.csp_report's lines)."""
    return [line for line in log.read_text().splitlines() if "CSP violation" in line]


def confirmation_link(log: Path) -> str:
    """The sign-up link the console e-mail backend printed in the terminal (serve's log)."""
    deadline = time.monotonic() + 15
    while True:
        found = re.search(
            r"https?://127\.0\.0\.1:\d+/accounts/signup/confirm/\S+/", log.read_text()
        )
        if found:
            return found.group(0)
        if time.monotonic() > deadline:
            pytest.fail("no confirmation link in the terminal:\n" + log.read_text())
        time.sleep(0.2)


def sign_up(page, server: str, log: Path, username: str = "erin", on_sent=None) -> None:
    """Sign up as a new musician does: the form, the link printed in the terminal, the
    confirmation; ends signed in on the library. `on_sent(page)` runs on the "check your
    e-mail" page."""
    page.goto(f"{server}/accounts/signup/")
    page.fill("#id_username", username)
    page.fill("#id_email", f"{username}@example.com")
    page.fill("#id_password1", PASSWORD)
    page.fill("#id_password2", PASSWORD)
    page.click("main button[type=submit]")
    page.wait_for_url(f"{server}/accounts/signup/sent/")
    if on_sent is not None:
        on_sent(page)
    page.goto(confirmation_link(log))
    page.click("main button[type=submit]")
    page.wait_for_url(f"{server}/")


def chromium_path() -> str:
    """Debian's chromium: skipped where it is missing, a failure in CI."""
    if not CHROMIUM.exists():
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} is missing; install Debian's chromium package")
        pytest.skip(f"{CHROMIUM} is not installed")
    return str(CHROMIUM)


def serve(tmp_path, extra_env: dict[str, str] | None = None):
    """Run `manage.py serve` until the generator is closed, on a socket bound here and
    handed over (the port is never free for another process to take); yields its URL.
    ``extra_env``: settings of this run (behind a proxy, a fake engine)."""
    listening = bound_socket()
    port = listening.getsockname()[1]
    env = {**os.environ, "JAM_VAR_DIR": str(tmp_path / "var"), "DEBUG": "false"}
    env.update(extra_env or {})
    env.pop("DATABASE_URL", None)
    env.pop("REDIS_URL", None)
    log = (tmp_path / "serve.log").open("w")
    process = subprocess.Popen(
        [sys.executable, "manage.py", "serve", "--fd", str(listening.fileno())],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        pass_fds=(listening.fileno(),),
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
    listening.close()
    reported = csp_reports(tmp_path / "serve.log")
    if reported:
        pytest.fail("the browser reported CSP violations:\n" + "\n".join(reported))
