"""The reverse-proxy configuration of docs/deploy.md, run: Debian's nginx, started as the
current user in a folder of its own (no root, ports from tests/ports.py), with the block the
docs show (only names, ports, certificate and upstream swapped), over TLS in front of the
real app server (`manage.py serve`, told it is behind a proxy). A browser signs up, uploads
a song bigger than nginx's default 1 MB body limit, watches the separation finish through
the proxied WebSocket (no reload) and plays the jam track. The engine is the tests' fake
(the real model's flow is tests/test_browser.py): this test is about the proxy."""

import getpass
import re
import socket
import subprocess
import time
from pathlib import Path

import pytest

from tests import fakes
from tests.browsing import CHROMIUM_ARGS, ROOT, serve, sign_up
from tests.ports import free_port

pytestmark = pytest.mark.browser

NGINX = Path("/usr/sbin/nginx")
DOCS = ROOT / "docs" / "deploy.md"


def documented_config() -> str:
    """The nginx block docs/deploy.md shows after its "nginx-config" marker."""
    text = DOCS.read_text()
    found = re.search(r"<!-- nginx-config[^>]*-->\n```nginx\n(.*?)\n```", text, re.S)
    assert found, "docs/deploy.md has no nginx-config block"
    return found.group(1)


def local_config(*, http_port, https_port, upstream_port, certificate, key) -> str:
    """The documented block with this machine's names, ports and certificate."""
    config = documented_config()
    swaps = {
        "listen 80;": f"listen 127.0.0.1:{http_port};",
        "listen 443 ssl http2;": f"listen 127.0.0.1:{https_port} ssl http2;",
        "server_name jam.example.org;": "server_name 127.0.0.1;",
        "server 127.0.0.1:8000;": f"server 127.0.0.1:{upstream_port};",
        "/etc/letsencrypt/live/jam.example.org/fullchain.pem": str(certificate),
        "/etc/letsencrypt/live/jam.example.org/privkey.pem": str(key),
    }
    for documented, local in swaps.items():
        assert documented in config, documented
        config = config.replace(documented, local)
    return config


def wait_for_port(port: int, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + 30
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                pytest.fail("nginx did not start:\n" + log.read_text())
            time.sleep(0.1)


@pytest.fixture
def nginx_path():
    if not NGINX.exists():
        pytest.skip(f"{NGINX} is not installed (scripts/test installs Debian's nginx)")
    return NGINX


@pytest.fixture
def proxied(nginx_path, tmp_path):
    """The app server behind nginx as docs/deploy.md configures it; yields the https URL."""
    https_port, http_port = free_port(), free_port()
    app = serve(
        tmp_path,
        {
            "SECURE_PROXY_SSL_HEADER": "true",
            "SECURE_COOKIES": "true",
            "SEPARATION_ENGINE_FACTORY": "tests.fakes.worker_engine",
        },
    )
    upstream = next(app)
    prefix = tmp_path / "nginx"
    prefix.mkdir()
    certificate, key = prefix / "cert.pem", prefix / "key.pem"
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
            "-subj", "/CN=127.0.0.1", "-keyout", str(key), "-out", str(certificate),
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    site = local_config(
        http_port=http_port,
        https_port=https_port,
        upstream_port=int(upstream.rsplit(":", 1)[1]),
        certificate=certificate,
        key=key,
    )
    temp = "\n".join(
        f"    {kind}_temp_path {prefix / kind};"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    (prefix / "nginx.conf").write_text(
        f"""user {getpass.getuser()};
worker_processes 1;
pid {prefix / "nginx.pid"};
error_log {prefix / "error.log"} info;
events {{ worker_connections 256; }}
http {{
    default_type application/octet-stream;
    access_log {prefix / "access.log"};
{temp}
{site}
}}
"""
    )
    log = prefix / "error.log"
    process = subprocess.Popen(
        [str(NGINX), "-p", str(prefix), "-e", str(log), "-c", str(prefix / "nginx.conf"),
         "-g", "daemon off;"],
        stdout=subprocess.DEVNULL,
        stderr=(prefix / "stderr.log").open("w"),
    )  # fmt: skip
    try:
        wait_for_port(https_port, process, prefix / "stderr.log")
        yield f"https://127.0.0.1:{https_port}", prefix
    finally:
        process.terminate()
        process.wait(timeout=30)
        app.close()


def test_a_musician_uploads_and_plays_through_the_documented_nginx(
    chromium_path, proxied, tmp_path, screenshots
):
    from playwright.sync_api import sync_playwright

    site, prefix = proxied
    song = fakes.write_wav(tmp_path / "Through the proxy.wav", seconds=20.0)
    assert song.stat().st_size > 1024 * 1024  # past nginx's default client_max_body_size
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
        try:
            page = browser.new_context(
                viewport={"width": 1100, "height": 900}, ignore_https_errors=True
            ).new_page()
            sign_up(page, site, tmp_path / "serve.log")
            page.goto(f"{site}/tracks/upload/")
            page.set_input_files("#id_file", str(song))
            page.click("form[data-upload] button[type=submit]")
            page.wait_for_url(f"{site}/tracks/*-*-*-*-*/", timeout=60_000)
            page.evaluate("() => { window.notReloaded = true; }")
            # Done, told through the WebSocket nginx upgraded: the page fills in place.
            page.wait_for_selector(
                "[data-player][data-parts='instrumental vocals']", timeout=120_000
            )
            assert page.evaluate("() => window.notReloaded === true")
            page.click("[data-player] [data-action=play]")
            page.wait_for_function(
                "() => { const p = document.querySelector('[data-player]').jamPlayer;"
                " return p && p.playing && p.position() > 0.5; }",
                timeout=60_000,
            )
            page.screenshot(path=screenshots / "proxy-track-playing.png", full_page=True)
            cookies = {c["name"]: c for c in page.context.cookies()}
            assert cookies["sessionid"]["secure"]  # Django saw https through the proxy
        finally:
            browser.close()
    access = (prefix / "access.log").read_text()
    assert re.search(r'"POST /tracks/upload/ HTTP/[\d.]+" 201 ', access), access
    assert re.search(r'"GET /ws/\S* HTTP/1.1" 101 ', access), access
