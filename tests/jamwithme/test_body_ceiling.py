"""Which body limit a request gets (jamwithme/limits.py), through the whole site as the ASGI
server drives it: the small ceiling for everyone, the upload limit only on a route that takes
uploads for a user who may upload. The body is counted as the client sends it, so "refused
without reading" means Django stored none of it."""

import asyncio
import json
from http import HTTPStatus

import pytest
from channels.db import database_sync_to_async
from django.test import Client

from accounts.services import user_suspend
from jamwithme.asgi import application
from tests import fakes
from tests.asgi import http_scope
from tracks.models import Track

KiB = 1024
MiB = 1024 * KiB
CEILING = 64 * KiB
UPLOAD = "/tracks/upload/"
CSRF = "k" * 32  # a CSRF secret in the cookie and the form, as Django accepts it unmasked
BOUNDARY = "----jamwithme-ceiling"


@pytest.fixture(autouse=True)
def small_ceiling(settings):
    settings.JAM_MAX_REQUEST_BYTES = CEILING
    settings.JAM_MAX_UPLOAD_BYTES = 4 * MiB


def multipart_head(title: str = "Song") -> bytes:
    return (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="csrfmiddlewaretoken"\r\n\r\n'
        f"{CSRF}\r\n"
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="title"\r\n\r\n{title}\r\n'
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="song.wav"\r\n'
        "Content-Type: audio/wav\r\n\r\n"
    ).encode()


MULTIPART_TAIL = f"\r\n--{BOUNDARY}--\r\n".encode()


class Client413:
    """Sends a multipart body (`file_bytes` of file, generated as it goes) in 64 KiB chunks
    and records how much of it the site read and what it answered."""

    def __init__(self, file_bytes: int = 0, *, content: bytes | None = None, chunk=64 * KiB):
        self.head, self.tail = multipart_head(), MULTIPART_TAIL
        self.content = content
        self.left = len(content) if content is not None else file_bytes
        self.total = len(self.head) + self.left + len(self.tail)
        self.chunk, self.taken, self.receive_calls, self.done = chunk, 0, 0, False
        self.sent = []

    async def receive(self):
        self.receive_calls += 1
        if self.done:  # the client waits for the answer (Django listens for it leaving)
            await asyncio.sleep(3600)
        body = b""
        if self.taken == 0:
            body += self.head
        size = min(self.chunk, self.left)
        if self.content is not None:
            start = len(self.content) - self.left
            body += self.content[start : start + size]
        else:
            body += b"\0" * size
        self.left -= size
        if self.left == 0:
            body += self.tail
            self.done = True
        self.taken += len(body)
        return {"type": "http.request", "body": body, "more_body": not self.done}

    async def send(self, message):
        self.sent.append(message)

    @property
    def status(self) -> int:
        return self.sent[0]["status"]

    @property
    def body(self) -> bytes:
        return b"".join(m.get("body", b"") for m in self.sent[1:])


def post_scope(path: str, client: Client413, *, cookies: str = "", chunked=False, json_=False):
    headers = [
        (b"content-type", f"multipart/form-data; boundary={BOUNDARY}".encode()),
        (b"accept", b"application/json" if json_ else b"text/html"),
        (b"origin", b"http://testserver"),
    ]
    if chunked:
        headers.append((b"transfer-encoding", b"chunked"))
    else:
        headers.append((b"content-length", str(client.total).encode()))
    if cookies:
        headers.append((b"cookie", cookies.encode()))
    return http_scope(path, method="POST", headers=headers)


async def answered(scope, receive, send):
    await asyncio.wait_for(application(scope, receive, send), timeout=60)


async def session_of(user) -> str:
    def login():
        client = Client()
        client.force_login(user)
        return client.cookies["sessionid"].value

    return await database_sync_to_async(login)()


async def test_an_anonymous_200_mb_post_to_an_unknown_route_is_refused_without_reading_its_body():
    client = Client413(200 * MiB)
    await answered(post_scope("/no/such/url", client), client.receive, client.send)
    assert client.status == HTTPStatus.REQUEST_ENTITY_TOO_LARGE
    assert client.receive_calls == 0
    assert "That request is too big. The limit is 64.0\xa0KB." in client.body.decode()
    headers = dict(client.sent[0]["headers"])
    assert b"'unsafe-inline'" not in headers[b"content-security-policy"]  # the site's policy


async def test_an_anonymous_chunked_200_mb_post_is_cut_off_at_the_ceiling():
    client = Client413(200 * MiB)
    await answered(post_scope("/no/such/url", client, chunked=True), client.receive, client.send)
    assert client.status == HTTPStatus.REQUEST_ENTITY_TOO_LARGE
    assert client.taken <= CEILING + client.chunk + len(client.head)


@pytest.mark.django_db(transaction=True)
async def test_a_made_up_csrf_token_and_session_change_nothing():
    client = Client413(200 * MiB)
    cookies = f"csrftoken={CSRF}; sessionid=made-up-session-key"
    await answered(
        post_scope("/no/such/url", client, cookies=cookies, chunked=True),
        client.receive,
        client.send,
    )
    assert client.status == HTTPStatus.REQUEST_ENTITY_TOO_LARGE
    assert client.taken <= CEILING + client.chunk + len(client.head)

    client = Client413(2 * MiB)  # within the upload limit: only the ceiling refuses it
    await answered(post_scope(UPLOAD, client, cookies=cookies), client.receive, client.send)
    assert client.status == HTTPStatus.REQUEST_ENTITY_TOO_LARGE
    assert client.receive_calls == 0


async def test_an_anonymous_upload_gets_the_ceiling_and_is_told_to_sign_in_as_json():
    client = Client413(2 * MiB)
    await answered(post_scope(UPLOAD, client, json_=True), client.receive, client.send)
    assert client.status == HTTPStatus.REQUEST_ENTITY_TOO_LARGE
    assert client.receive_calls == 0
    assert json.loads(client.body) == {
        "errors": ["Sign in to upload songs. Without that, the limit is 64.0\xa0KB per request."]
    }


async def test_a_small_anonymous_post_to_an_unknown_route_reaches_django():
    client = Client413(1 * KiB)
    await answered(post_scope("/no/such/url", client), client.receive, client.send)
    assert client.status == HTTPStatus.NOT_FOUND  # as before: Django read it and answered


@pytest.mark.django_db(transaction=True)
async def test_a_signed_in_musician_still_uploads_a_song_bigger_than_the_ceiling(alice, tmp_path):
    song = fakes.write_wav(tmp_path / "song.wav", seconds=2.0).read_bytes()
    assert len(song) > 2 * CEILING
    cookies = f"csrftoken={CSRF}; sessionid={await session_of(alice)}"
    client = Client413(content=song)
    await answered(
        post_scope(UPLOAD, client, cookies=cookies, json_=True), client.receive, client.send
    )
    assert client.status == HTTPStatus.CREATED, client.body
    track = await Track.objects.aget(owner=alice)
    assert json.loads(client.body)["track_id"] == str(track.id)


@pytest.mark.django_db(transaction=True)
async def test_a_signed_in_post_to_a_route_that_takes_no_upload_gets_the_ceiling(alice):
    cookies = f"csrftoken={CSRF}; sessionid={await session_of(alice)}"
    for path in ("/accounts/password_change/", "/no/such/url"):
        client = Client413(200 * MiB)
        await answered(
            post_scope(path, client, cookies=cookies, chunked=True), client.receive, client.send
        )
        assert client.status == HTTPStatus.REQUEST_ENTITY_TOO_LARGE, path
        assert client.taken <= CEILING + client.chunk + len(client.head)


@pytest.mark.django_db(transaction=True)
async def test_a_suspended_musicians_session_gets_the_ceiling_on_the_upload_route(alice, moderator):
    session = await session_of(alice)
    await database_sync_to_async(user_suspend)(user=alice, by=moderator, reason="spam")
    client = Client413(2 * MiB)
    await answered(
        post_scope(UPLOAD, client, cookies=f"csrftoken={CSRF}; sessionid={session}"),
        client.receive,
        client.send,
    )
    assert client.status == HTTPStatus.REQUEST_ENTITY_TOO_LARGE
    assert client.receive_calls == 0
