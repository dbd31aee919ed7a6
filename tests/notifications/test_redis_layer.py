"""The notification socket on the Redis channel layer (the scale-out pass sets REDIS_URL)."""

import time

import pytest
from channels.layers import get_channel_layer
from django.conf import settings

from notifications.events import user_group
from tests.notifications.test_consumers import message_for, session_cookie, socket

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not settings.REDIS_URL, reason="needs REDIS_URL (the scale-out pass)"),
]

# channels-redis waits for a message with BZPOPMIN for 5 s at a time; redis-py's default
# read timeout is 5 s too, so a quiet socket used to die here (TimeoutError, close 1011).
IDLE_S = 12


@pytest.fixture
def alice_cookie(alice):
    return session_cookie(alice)


async def test_a_socket_left_quiet_for_longer_than_the_redis_timeouts_still_gets_events(
    alice, alice_cookie, settings
):
    settings.NOTIFICATIONS_RELAY_FROM_DB = False
    communicator = socket(alice_cookie)
    assert (await communicator.connect(timeout=5))[0]
    try:
        # Nothing for a while: the consumer sits in the channel layer's blocking receive.
        assert await communicator.receive_nothing(timeout=IDLE_S, interval=0.5)
        await get_channel_layer().group_send(user_group(alice.id), message_for([alice.id]))
        received = await communicator.receive_json_from(timeout=5)
        assert received["type"] == "test.ping"
    finally:
        await communicator.disconnect()


def test_the_redis_read_timeout_is_longer_than_the_channel_layers_block():
    from channels_redis.core import RedisChannelLayer

    assert RedisChannelLayer.brpop_timeout == settings.CHANNEL_LAYER_BLOCK_S
    host = settings.CHANNEL_LAYERS["default"]["CONFIG"]["hosts"][0]
    assert host["socket_timeout"] > RedisChannelLayer.brpop_timeout


async def test_the_socket_cap_counts_the_users_sockets_on_every_node(alice, alice_cookie, settings):
    """Another node is another channel layer on the same Redis: its sockets' openings reach
    this node's socket through the user's group, and this node's reach it."""
    from channels.layers import channel_layers

    from notifications.consumers import TOO_MANY_SOCKETS
    from tests.notifications.test_consumers import closing

    settings.NOTIFICATIONS_RELAY_FROM_DB = False
    settings.NOTIFICATIONS_MAX_SOCKETS_PER_USER = 2
    other_node = channel_layers.make_backend("default")
    group = user_group(alice.id)
    remote = [await other_node.new_channel() for _ in range(2)]
    await other_node.group_add(group, remote[0])
    here = socket(alice_cookie)
    try:
        assert (await here.connect(timeout=5))[0]
        heard = await other_node.receive(remote[0])
        assert heard["type"] == "notification.opened"  # this node's socket, told over there
        for channel in remote:  # two newer sockets open on the other node
            await other_node.group_add(group, channel)
            opened = {"type": "notification.opened", "channel": channel, "at": time.time()}
            await other_node.group_send(group, opened)
        said, code = await closing(here)
        assert (said["why"], code) == ("too_many", TOO_MANY_SOCKETS)
    finally:
        await here.disconnect()
        for channel in remote:
            await other_node.group_discard(group, channel)
