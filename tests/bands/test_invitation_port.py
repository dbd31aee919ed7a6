"""Issue 23, item 1, against the real server: `manage.py serve` on a port other than 8000
(as `scripts/run --port 8401` does; here a free port handed over with --fd) and no
JAM_SITE_URL. The invitation e-mail, printed in the terminal by the console backend,
links to that port."""

import http.cookiejar
import os
import re
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from tests.browsing import serve

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "Strum-the-chords-77"


def _env(tmp_path: Path) -> dict:
    env = {**os.environ, "JAM_VAR_DIR": str(tmp_path / "var"), "DEBUG": "false"}
    for name in ("DATABASE_URL", "REDIS_URL", "JAM_SITE_URL", "EMAIL_HOST"):
        env.pop(name, None)
    return env


@pytest.fixture
def site(tmp_path):
    """`manage.py serve` on a handed-over socket (tests/browsing.py), with neither
    JAM_SITE_URL nor a mail server (empty is unset); yields (url, log path)."""
    server = serve(tmp_path, extra_env={"JAM_SITE_URL": "", "EMAIL_HOST": ""})
    url = next(server)
    assert not url.endswith(":8000")
    yield url, tmp_path / "serve.log"
    next(server, None)


def _alice_with_a_band(tmp_path) -> str:
    """alice and her band, made in the server's own database; the band's id."""
    code = f"""
from django.contrib.auth.models import User
from bands.services import band_create
alice = User.objects.create_user("alice", "alice@example.com", {PASSWORD!r})
print(band_create(owner=alice, name="The Cats").band.pk)
"""
    done = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", code],
        cwd=ROOT,
        env=_env(tmp_path),
        check=True,
        capture_output=True,
        text=True,
    )
    return done.stdout.strip().splitlines()[-1]


class Browser:
    """Cookies and CSRF tokens, as a browser keeps them."""

    def __init__(self, url: str):
        self.url = url
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar))

    def get(self, path: str) -> str:
        with self.opener.open(self.url + path, timeout=30) as response:
            return response.read().decode()

    def post(self, path: str, fields: dict) -> str:
        token = next(c.value for c in self.jar if c.name == "csrftoken")
        data = urllib.parse.urlencode({**fields, "csrfmiddlewaretoken": token}).encode()
        with self.opener.open(self.url + path, data=data, timeout=30) as response:
            return response.read().decode()


def test_an_invitation_from_a_server_on_another_port_links_to_that_port(site, tmp_path):
    url, log = site
    band_id = _alice_with_a_band(tmp_path)
    browser = Browser(url)
    browser.get("/accounts/login/")
    browser.post("/accounts/login/", {"username": "alice", "password": PASSWORD})
    page = browser.post(f"/bands/{band_id}/invite/", {"username_or_email": "erin@example.com"})
    assert "Invitation sent to erin@example.com." in page
    deadline = time.monotonic() + 15
    while not (found := re.search(r"https?://\S+/bands/invitations/\S+/", log.read_text())):
        if time.monotonic() > deadline:
            pytest.fail("no invitation link in the terminal:\n" + log.read_text())
        time.sleep(0.2)
    assert found.group(0).startswith(f"{url}/bands/invitations/")
    assert f"{url}/accounts/signup/" in log.read_text()
