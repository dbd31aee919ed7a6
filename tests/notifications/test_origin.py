"""The notification socket opens only for pages of this very site: scheme, host and port."""

import pytest
from channels.testing import WebsocketCommunicator
from django.test import Client

from jamwithme.asgi import application

pytestmark = pytest.mark.django_db(transaction=True)


def handshake(cookie, *, host: str, origin: str, headers=(), scheme: str = "ws"):
    all_headers = [(b"host", host.encode()), (b"origin", origin.encode()), *headers]
    all_headers.append((b"cookie", f"sessionid={cookie}".encode()))
    communicator = WebsocketCommunicator(application, "/ws/notifications/", headers=all_headers)
    communicator.scope["scheme"] = scheme
    return communicator


@pytest.fixture
def cookie(alice):
    client = Client()
    client.force_login(alice)
    return client.cookies["sessionid"].value


@pytest.mark.parametrize(
    ("host", "origin", "scheme", "allowed"),
    [
        ("localhost:8000", "http://localhost:8000", "ws", True),
        ("localhost", "http://localhost:80", "ws", True),  # the default port, spelt out
        ("localhost:8000", "http://localhost:9000", "ws", False),  # another port: another site
        ("localhost:8000", "https://localhost:8000", "ws", False),  # another scheme
        ("localhost:8443", "https://localhost:8443", "wss", True),
        ("localhost:8443", "http://localhost:8443", "wss", False),
        ("localhost:8000", "http://127.0.0.1:8000", "ws", False),  # another host name
        ("evil.example", "http://evil.example", "ws", False),  # not in ALLOWED_HOSTS
        ("localhost:8000", "null", "ws", False),
        ("localhost:8000", "", "ws", False),
    ],
)
async def test_the_origin_must_be_the_sites_own(cookie, no_relay, host, origin, scheme, allowed):
    communicator = handshake(cookie, host=host, origin=origin, scheme=scheme)
    connected, _ = await communicator.connect()
    assert connected is allowed
    await communicator.disconnect()


async def test_a_trusted_origin_is_matched_exactly(cookie, no_relay, settings):
    settings.CSRF_TRUSTED_ORIGINS = ["https://jam.example.org"]
    ok = handshake(cookie, host="localhost", origin="https://jam.example.org")
    assert (await ok.connect())[0]
    await ok.disconnect()
    other_port = handshake(cookie, host="localhost", origin="https://jam.example.org:8443")
    assert not (await other_port.connect())[0]
    await other_port.disconnect()


async def test_a_trusted_proxy_header_makes_the_site_https(cookie, no_relay, settings):
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    behind_proxy = handshake(
        cookie,
        host="localhost",
        origin="https://localhost",
        headers=[(b"x-forwarded-proto", b"https")],
    )
    assert (await behind_proxy.connect())[0]
    await behind_proxy.disconnect()


@pytest.fixture
def no_relay(settings):
    settings.NOTIFICATIONS_RELAY_FROM_DB = False
