"""An upload the owner's limits refuse anyway is answered from the request's head, before a
byte of its body is read (`separation.precheck`), driven as an ASGI server drives the app."""

import json

import pytest
from django.conf import settings as django_settings

from jamwithme.asgi import application
from separation.precheck import FRAMING_BYTES, UploadPrecheck
from tests.asgi import http_scope
from tests.jamwithme.test_limits import FakeClient
from tracks.models import Track

pytestmark = pytest.mark.django_db(transaction=True)

MiB = 1024 * 1024
UPLOAD = "/tracks/upload/"


def upload_scope(client, *, content_length: int) -> dict:
    """The head of a browser's upload: the session cookie, the length, JSON wanted."""
    session = client.cookies[django_settings.SESSION_COOKIE_NAME].value
    headers = [
        (b"accept", b"application/json"),
        (b"content-type", b"multipart/form-data; boundary=x"),
        (b"content-length", str(content_length).encode()),
        (b"cookie", f"{django_settings.SESSION_COOKIE_NAME}={session}".encode()),
    ]
    return http_scope(UPLOAD, method="POST", headers=headers)


class ReachedApp:
    def __init__(self):
        self.reached = False

    async def __call__(self, scope, receive, send):
        self.reached = True


async def test_an_upload_over_the_active_song_cap_is_answered_before_its_body_is_read(
    alice_client, alice, settings
):
    settings.JAM_USER_MAX_ACTIVE_JOBS = 1
    track = await Track.objects.acreate(owner=alice, title="Waiting")
    from separation.models import SeparationJob

    await SeparationJob.objects.acreate(track=track)
    client = FakeClient(20 * MiB)
    await application(
        upload_scope(alice_client, content_length=20 * MiB), client.receive, client.send
    )
    assert client.status == 400
    assert client.receive_calls == 0  # only the head was read: not a byte of the body
    assert client.headers[b"connection"] == b"close"
    [message] = json.loads(client.body)["errors"]
    assert message.startswith("You already have 1 song waiting for or in separation")
    assert await Track.objects.acount() == 1


async def test_an_upload_the_file_alone_would_overflow_the_quota_with_is_answered_at_once(
    alice_client, settings
):
    settings.JAM_USER_QUOTA_BYTES = 4 * MiB
    client = FakeClient(10 * MiB)
    await application(
        upload_scope(alice_client, content_length=10 * MiB), client.receive, client.send
    )
    assert (client.status, client.receive_calls) == (400, 0)
    [message] = json.loads(client.body)["errors"]
    assert message.startswith("That file is bigger than the room left in your storage")


async def test_an_upload_within_the_limits_goes_on_to_the_view(alice_client, settings):
    settings.JAM_USER_QUOTA_BYTES = 4 * MiB
    app = ReachedApp()
    client = FakeClient(MiB)
    await UploadPrecheck(app)(
        upload_scope(alice_client, content_length=3 * MiB + FRAMING_BYTES),
        client.receive,
        client.send,
    )
    assert app.reached and client.sent == []


async def test_an_anonymous_upload_goes_on_to_the_view_which_sends_it_to_sign_in():
    app = ReachedApp()
    client = FakeClient(MiB)
    scope = http_scope(UPLOAD, method="POST", headers=[(b"content-length", b"1048576")])
    await UploadPrecheck(app)(scope, client.receive, client.send)
    assert app.reached
