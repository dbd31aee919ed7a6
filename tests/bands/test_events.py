"""Live notices reach the right users: captured from the real in-memory channel layer (each
user's group gets a listening channel), and once through the real socket."""

import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator
from django.test import Client

from bands.services import band_invitation_accept, band_invite, band_leave, band_remove_member
from jamwithme.asgi import application
from notifications.events import CHANNEL_MESSAGE, user_group
from tests.bands.conftest import invite, join
from tests.sentinels import layer_heard_before_a_sentinel

# What a request passes: the site's address, who asks.
REQUEST = {"site_url": "http://testserver", "requester": "test"}


class Ears:
    """One channel listening in each user's group, as a socket would."""

    def __init__(self, *users):
        self.layer = get_channel_layer()
        self.channels = {}
        for user in users:
            channel = async_to_sync(self.layer.new_channel)()
            async_to_sync(self.layer.group_add)(user_group(user.pk), channel)
            self.channels[user.username] = channel

    def heard(self, username) -> list[dict]:
        """The events that reached this user's group since last asked (up to a sentinel
        sent to the channel now)."""
        heard = async_to_sync(layer_heard_before_a_sentinel)(self.layer, self.channels[username])
        assert all(message["type"] == CHANNEL_MESSAGE for message in heard)
        return [message["event"] for message in heard]


@pytest.fixture
def ears(in_memory_layer, alice, bob, charlie):
    ears = Ears(alice, bob, charlie)
    yield ears
    async_to_sync(ears.layer.flush)()


def test_an_invitation_reaches_the_registered_invitee_only(
    band, alice, bob, ears, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        invitation = band_invite(band=band, by=alice, username_or_email="bob", **REQUEST)
    [event] = ears.heard("bob")
    assert event["type"] == "bands.invited"
    assert event["audience"] == [bob.pk]
    assert event["key"] == f"invitation.{invitation.pk}"
    assert event["band_id"] == str(band.pk)
    assert event["message"] == "alice invited you to join The Jammers."
    assert "track_id" not in event
    assert ears.heard("alice") == ears.heard("charlie") == []


def test_an_invitation_to_an_address_with_no_account_is_not_published(
    band, alice, ears, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        band_invite(band=band, by=alice, username_or_email="newcomer@example.com", **REQUEST)
    assert ears.heard("alice") == ears.heard("bob") == ears.heard("charlie") == []


def test_nothing_is_published_before_the_commit(
    band, alice, ears, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        band_invite(band=band, by=alice, username_or_email="bob", **REQUEST)
    assert ears.heard("bob") == []
    assert callbacks


def test_someone_joining_is_told_to_the_bands_other_members(
    band, alice, bob, charlie, ears, django_capture_on_commit_callbacks
):
    join(band, charlie)
    invitation = invite(band=band, by=alice, username_or_email="bob")
    for listener in ("alice", "bob", "charlie"):
        ears.heard(listener)  # the invitations and charlie joining
    with django_capture_on_commit_callbacks(execute=True):
        band_invitation_accept(user=bob, token=invitation.token)
    for listener in ("alice", "charlie"):
        [event] = ears.heard(listener)
        assert event["type"] == "bands.joined"
        assert sorted(event["audience"]) == sorted([alice.pk, charlie.pk])
        assert event["message"] == "bob joined The Jammers."
    assert ears.heard("bob") == []


def test_the_removed_member_is_told_and_nobody_else(
    band, alice, bob, charlie, ears, django_capture_on_commit_callbacks
):
    join(band, bob)
    join(band, charlie)
    for listener in ("alice", "bob", "charlie"):
        ears.heard(listener)
    with django_capture_on_commit_callbacks(execute=True):
        band_remove_member(band=band, by=alice, user=bob)
    [event] = ears.heard("bob")
    assert (event["type"], event["audience"]) == ("bands.removed", [bob.pk])
    assert event["message"] == "You were removed from The Jammers."
    assert event["url"] == "/bands/"
    assert ears.heard("alice") == ears.heard("charlie") == []


def test_leaving_publishes_no_removal(band, bob, ears, django_capture_on_commit_callbacks):
    join(band, bob)
    ears.heard("bob")
    with django_capture_on_commit_callbacks(execute=True):
        band_leave(band=band, user=bob)
    assert ears.heard("bob") == []


@pytest.mark.django_db(transaction=True)
async def test_an_invitation_arrives_on_the_invitees_socket(alice, bob, settings):
    from bands.services import band_create

    settings.NOTIFICATIONS_RELAY_FROM_DB = False
    client = Client()
    await database_sync_to_async(client.force_login)(bob)
    cookie = client.cookies["sessionid"].value
    headers = [
        (b"origin", b"http://localhost"),
        (b"host", b"localhost"),
        (b"cookie", f"sessionid={cookie}".encode()),
    ]
    communicator = WebsocketCommunicator(application, "/ws/notifications/", headers=headers)
    connected, _ = await communicator.connect()
    assert connected
    try:
        band = (await database_sync_to_async(band_create)(owner=alice, name="The Jammers")).band
        await database_sync_to_async(band_invite)(
            band=band, by=alice, username_or_email="bob", **REQUEST
        )
        received = await communicator.receive_json_from(timeout=2)
        assert received["type"] == "bands.invited"
        assert received["message"] == "alice invited you to join The Jammers."
        assert "audience" not in received
    finally:
        await communicator.disconnect()
