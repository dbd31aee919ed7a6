"""A download already streaming stops at log-out, as it does when access is lost: through a
real server (uvicorn on a loopback socket), the download in one client and the log-out in
another client of the same session."""

import http.client
import re
import socket
import threading

import httpx
import pytest
import uvicorn
from django.test import Client
from django.urls import reverse

from jamwithme.asgi import application
from tests.factories import make_track
from tests.ports import bound_socket

pytestmark = pytest.mark.django_db(transaction=True)

# Small socket buffers at both ends, so what the server wrote before the log-out and the
# kernel still holds is far less than the file (Linux lets a receive buffer grow to 32 MB).
BUFFER = 64 * 1024
SECONDS = 120  # a 2-minute song: a stem of about 20 MB


@pytest.fixture
def real_server():
    """uvicorn serving the ASGI application of this process (the test's database)."""
    listening = bound_socket()
    listening.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, BUFFER)  # accepted sockets inherit it
    port = listening.getsockname()[1]
    config = uvicorn.Config(
        application, lifespan="off", log_level="warning", timeout_graceful_shutdown=2
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listening]}, daemon=True)
    thread.start()
    ticks = threading.Event()  # never set: a pause between looks at the server
    while not server.started and thread.is_alive():
        ticks.wait(0.05)
    assert server.started, "uvicorn did not start"
    yield port
    server.should_exit = True
    thread.join(timeout=30)
    listening.close()


def streaming(port: int, path: str, cookie: str) -> http.client.HTTPResponse:
    """A GET whose body is read as the test pleases, over a socket with a small buffer."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, BUFFER)
    sock.connect(("127.0.0.1", port))
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    connection.sock = sock
    connection.request("GET", path, headers={"Cookie": f"sessionid={cookie}"})
    return connection.getresponse()


def test_a_download_in_progress_stops_when_the_session_logs_out_in_another_client(
    alice, tmp_path, fake_engine, real_server, monkeypatch
):
    from tracks import media

    monkeypatch.setattr(media, "ACCESS_RECHECK_S", 0.0)  # ask again before every chunk
    track = make_track(owner=alice, tmp_path=tmp_path, seconds=SECONDS, separated=True)
    browser = Client()
    browser.force_login(alice)
    cookie = browser.cookies["sessionid"].value

    download = streaming(
        real_server, reverse("tracks:download", args=[track.id, "instrumental"]), cookie
    )
    assert download.status == 200
    size = int(download.headers["Content-Length"])
    received = len(download.read(media.CHUNK))

    # Another tab of the same browser: the same session cookie, logging out.
    with httpx.Client(
        base_url=f"http://127.0.0.1:{real_server}", cookies={"sessionid": cookie}
    ) as tab:
        page = tab.get("/accounts/password_change/")
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
        tab.post("/accounts/logout/", data={"csrfmiddlewaretoken": token})
        assert tab.get("/accounts/password_change/").url.path == "/accounts/login/"  # signed out

    try:
        while chunk := download.read(media.CHUNK):
            received += len(chunk)
    except http.client.IncompleteRead as cut:
        received += len(cut.partial)
    finally:
        download.close()
    # What the server wrote before it noticed sits in the two small buffers at most.
    assert received < size - 4 * 1024 * 1024
    assert size > 15 * 1024 * 1024


def test_a_download_runs_to_its_end_while_the_session_stays_signed_in(
    alice, tmp_path, fake_engine, real_server, monkeypatch
):
    from tracks import media

    monkeypatch.setattr(media, "ACCESS_RECHECK_S", 0.0)
    track = make_track(owner=alice, tmp_path=tmp_path, seconds=5, separated=True)
    browser = Client()
    browser.force_login(alice)
    cookie = browser.cookies["sessionid"].value

    download = streaming(
        real_server, reverse("tracks:download", args=[track.id, "instrumental"]), cookie
    )
    body = download.read()
    download.close()
    assert download.status == 200 and len(body) == int(download.headers["Content-Length"])
