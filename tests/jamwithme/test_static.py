"""Static files come from the web server started as docs/deploy.md says, with no
collectstatic first."""

import os
import subprocess
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from jamwithme.management.commands.serve import web_command
from tests.ports import bound_socket

ROOT = Path(__file__).resolve().parents[2]


def documented_web_server(tmp_path, listening, **env):
    """`python -m uvicorn ... jamwithme.asgi:application`, as in docs/deploy.md (the same
    command `serve` runs), with nothing done before; it serves on ``listening``, a socket
    this test bound and listens on: a request waits in its queue until uvicorn takes it,
    so the first one needs no retries (the port was never given up, either)."""
    with (tmp_path / "web.log").open("w") as log:  # the child keeps its own copy
        process = subprocess.Popen(
            web_command("127.0.0.1", 0, fd=listening.fileno()),
            cwd=ROOT,
            env={
                **os.environ,
                "JAM_VAR_DIR": str(tmp_path / "var"),
                "STATIC_ROOT": str(tmp_path / "static_root"),  # empty: nothing collected
                "DEBUG": "false",
                **env,
            },
            stdout=log,
            stderr=subprocess.STDOUT,
            pass_fds=(listening.fileno(),),
        )
    url = f"http://127.0.0.1:{listening.getsockname()[1]}"
    try:
        urllib.request.urlopen(url + "/static/none", timeout=60)
    except urllib.error.HTTPError:
        pass  # it answers
    except OSError:
        process.kill()
        pytest.fail("uvicorn did not answer:\n" + (tmp_path / "web.log").read_text())
    return process, url


def fetch(url):
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read()


@pytest.fixture
def web_server(tmp_path):
    with bound_socket() as listening:
        listening.listen()
        process, url = documented_web_server(tmp_path, listening)
        yield url
        process.terminate()
        process.wait(timeout=20)


def test_the_documented_web_server_serves_static_files_without_collectstatic(web_server, tmp_path):
    status, headers, body = fetch(web_server + "/static/js/app.js")
    assert status == 200
    assert headers["Content-Type"].startswith("text/javascript")
    assert body == (ROOT / "static/js/app.js").read_bytes()
    # The admin's own files too (from its app's static/ folder).
    assert fetch(web_server + "/static/admin/css/base.css")[0] == 200
    assert fetch(web_server + "/static/js/missing.js")[0] == 404
    assert not any((tmp_path / "static_root").iterdir())
    # The request id (jamwithme/logs.py) is on its responses too.
    assert len(fetch(web_server + "/static/js/app.js")[1]["X-Request-ID"]) == 32
    # Read a chunk at a time on a thread, not whole into a list with Django's warning.
    assert "must consume synchronous iterators" not in (tmp_path / "web.log").read_text()
