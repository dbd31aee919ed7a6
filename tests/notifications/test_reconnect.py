"""The page's socket (static/js/app.js) re-syncs what it shows after a reconnect: events
sent while it was away are not sent again. Run in Node against a stand-in page."""

import json
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
NODE = shutil.which("node")


@pytest.mark.skipif(NODE is None, reason="needs Node.js")
def test_a_page_fetches_its_tracks_afresh_when_its_socket_comes_back():
    result = subprocess.run(
        [NODE, str(Path(__file__).with_name("resync_harness.js")), str(ROOT / "static/js/app.js")],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 0, result.stderr
    steps = json.loads(result.stdout)
    # The first connection fetches nothing: the page was just rendered.
    assert steps["first_open"] == []
    # After a drop, the library row and the track panel on the page are fetched again.
    assert steps["reopen"] == ["/tracks/t-row/row/?page_url=%2F", "/tracks/t-panel/panel/"]
    # Signed out (4401): no reconnect, so nothing more.
    assert steps["sockets_after_sign_out"] == 2
    # ...and the page is told why, in the socket's last words (static/js/signedout.js).
    assert steps["told"] == [["jam:signed-out", "signed_out", "You were signed out."]]
