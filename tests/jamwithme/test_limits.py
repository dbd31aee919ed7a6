"""The limit on a whole request body, driven as an ASGI server drives the app: how a
limit is enforced (here with the upload limit, as a signed-in uploader gets it); which limit
a request gets is in test_body_ceiling.py."""

import json

import pytest

from jamwithme.asgi import django_asgi_app
from jamwithme.limits import REQUEST_SLACK_BYTES, RequestBodyLimit, upload_limit
from tests.asgi import http_scope

MiB = 1024 * 1024
UPLOAD = "/tracks/upload/"


@pytest.fixture(autouse=True)
def one_mib_uploads(settings):
    settings.JAM_MAX_UPLOAD_BYTES = MiB


LIMIT = MiB + REQUEST_SLACK_BYTES


async def as_uploader(scope):
    return upload_limit()


def limited(app):
    return RequestBodyLimit(app, limit=as_uploader)


def scope(*, content_length=None, accept=b"text/html", path=UPLOAD):
    headers = [(b"accept", accept)]
    if content_length is not None:
        headers.append((b"content-length", str(content_length).encode()))
    return http_scope(path, method="POST", headers=headers)


class FakeClient:
    """Sends a body in chunks of `chunk` bytes and records what the app did with it."""

    def __init__(self, total: int, chunk: int = 64 * 1024):
        self.left, self.chunk = total, chunk
        self.receive_calls = 0
        self.bytes_taken = 0
        self.finished = False
        self.sent = []

    async def receive(self):
        self.receive_calls += 1
        if self.finished:  # all sent: what follows is the client going away
            return {"type": "http.disconnect"}
        body = b"x" * min(self.chunk, self.left)
        self.left -= len(body)
        self.bytes_taken += len(body)
        self.finished = self.left <= 0
        return {"type": "http.request", "body": body, "more_body": not self.finished}

    async def send(self, message):
        self.sent.append(message)

    @property
    def status(self):
        return self.sent[0]["status"]

    @property
    def headers(self):
        return dict(self.sent[0]["headers"])

    @property
    def body(self):
        return b"".join(m.get("body", b"") for m in self.sent[1:])


async def must_not_run(scope, receive, send):
    raise AssertionError("the app must not see a request over the limit")


async def test_an_over_size_content_length_is_refused_with_413_without_reading_the_body():
    client = FakeClient(3 * 150 * MiB)
    await limited(must_not_run)(scope(content_length=3 * 150 * MiB), client.receive, client.send)
    assert client.status == 413
    assert client.receive_calls == 0
    assert client.headers[b"connection"] == b"close"


async def test_a_content_length_just_within_the_limit_reaches_the_app():
    seen = []

    async def app(scope, receive, send):
        seen.append(scope["path"])

    client = FakeClient(LIMIT)
    await limited(app)(scope(content_length=LIMIT), client.receive, client.send)
    assert seen == [UPLOAD]
    assert client.sent == []


async def read_all(scope, receive, send):
    """An app that reads the whole body the way Django does, then answers 200."""
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return
        if not message.get("more_body"):
            break
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"ok"})


async def test_a_chunked_body_is_counted_and_cut_off_once_it_passes_the_limit():
    client = FakeClient(100 * MiB)
    await limited(read_all)(scope(), client.receive, client.send)
    assert client.status == 413
    assert LIMIT < client.bytes_taken <= LIMIT + client.chunk


async def test_a_chunked_body_within_the_limit_is_passed_on_whole():
    client = FakeClient(LIMIT)
    await limited(read_all)(scope(), client.receive, client.send)
    assert client.status == 200
    assert client.body == b"ok"


async def test_the_site_refuses_a_chunked_upload_over_the_limit_before_django_reads_it_all():
    client = FakeClient(100 * MiB)
    await limited(django_asgi_app)(scope(accept=b"application/json"), client.receive, client.send)
    assert client.status == 413
    assert client.bytes_taken <= LIMIT + client.chunk


async def test_a_client_asking_for_json_gets_the_reason_as_json_errors():
    client = FakeClient(10 * MiB)
    await limited(django_asgi_app)(
        scope(content_length=10 * MiB, accept=b"application/json"), client.receive, client.send
    )
    assert client.status == 413
    assert client.headers[b"content-type"] == b"application/json"
    assert json.loads(client.body) == {
        "errors": ["That upload is too big. The limit is 1.0\xa0MB per upload."]
    }


async def test_a_browser_gets_a_readable_page_saying_why():
    client = FakeClient(10 * MiB)
    await limited(django_asgi_app)(
        scope(content_length=10 * MiB, accept=b"text/html,*/*;q=0.8"), client.receive, client.send
    )
    assert client.status == 413
    assert client.headers[b"content-type"].startswith(b"text/html")
    page = client.body.decode()
    assert "That upload is too big. The limit is 1.0\xa0MB per upload." in page
    assert f'href="{UPLOAD}"' in page


async def test_websockets_pass_through_untouched():
    seen = []

    async def app(scope, receive, send):
        seen.append(scope["type"])

    await limited(app)({"type": "websocket", "headers": []}, None, None)
    assert seen == ["websocket"]
