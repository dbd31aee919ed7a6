"""Sockets leave their user's group as they close, a dead node's channels expire from it
while open sockets stay, and channels-redis's "over capacity" line says in words what it
means."""

import asyncio
import logging
import uuid

import pytest
from channels.layers import get_channel_layer
from django.conf import settings

from notifications.events import user_group
from tests.notifications.test_consumers import message_for, session_cookie, socket

needs_redis = pytest.mark.skipif(not settings.REDIS_URL, reason="needs REDIS_URL (scale-out)")


async def members(group: str) -> int:
    layer = get_channel_layer()
    redis = layer.connection(layer.consistent_hash(group))
    return await redis.zcard(layer._group_key(group))


@needs_redis
@pytest.mark.django_db(transaction=True)
async def test_a_closed_socket_leaves_its_users_group(alice, settings):
    from channels.db import database_sync_to_async

    settings.NOTIFICATIONS_RELAY_FROM_DB = False
    cookie = await database_sync_to_async(session_cookie)(alice)
    group = user_group(alice.id)
    before = await members(group)
    communicator = socket(cookie)
    assert (await communicator.connect(timeout=5))[0]
    assert await members(group) == before + 1
    await communicator.disconnect()
    assert await members(group) == before


def test_the_over_capacity_line_says_what_it_means(caplog):
    caplog.set_level(logging.INFO, logger="channels_redis.core")
    logging.getLogger("channels_redis.core").info(
        "%s of %s channels over capacity in group %s", 2, 2, "user.7"
    )
    (record,) = caplog.records
    assert record.levelname == "WARNING"
    message = record.getMessage()
    assert message.startswith("2 of the 2 sockets in group user.7 did not get this event")
    assert "died without leaving the group" in message
    assert "CHANNEL_LAYER_GROUP_EXPIRY_S" in message


@needs_redis
async def test_an_event_to_a_group_with_a_dead_member_logs_the_explained_line(caplog):
    from channels_redis.core import RedisChannelLayer

    caplog.set_level(logging.INFO, logger="channels_redis.core")
    layer = RedisChannelLayer(hosts=[settings.REDIS_URL], capacity=1, prefix=uuid.uuid4().hex)
    dead = await layer.new_channel()  # a socket whose process died: nobody reads it
    await layer.group_add("user.7", dead)
    try:
        for _ in range(2):
            await layer.group_send("user.7", {"type": "notification.event"})
    finally:
        await layer.flush()
    messages = [record.getMessage() for record in caplog.records]
    assert any(m.startswith("1 of the 1 sockets in group user.7") for m in messages), messages


async def is_member(layer, group: str, channel: str) -> bool:
    if hasattr(layer, "groups"):  # the in-memory layer
        return channel in layer.groups.get(group, {})
    redis = layer.connection(layer.consistent_hash(group))
    return await redis.zscore(layer._group_key(group), channel) is not None


TINY_EXPIRY_S = 2  # renewed every 0.5 s


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("kind", ["in-memory", pytest.param("redis", marks=needs_redis)])
async def test_a_dead_nodes_channel_expires_from_the_group_while_an_open_socket_stays(
    alice, settings, kind
):
    import copy

    from channels.db import database_sync_to_async

    settings.NOTIFICATIONS_RELAY_FROM_DB = False
    if kind == "redis":
        default = copy.deepcopy(settings.CHANNEL_LAYERS["default"])
    else:
        default = {"BACKEND": "channels.layers.InMemoryChannelLayer", "CONFIG": {}}
    default["CONFIG"]["group_expiry"] = TINY_EXPIRY_S
    settings.CHANNEL_LAYERS = {"default": default}
    layer = get_channel_layer()
    assert layer.group_expiry == TINY_EXPIRY_S
    cookie = await database_sync_to_async(session_cookie)(alice)
    group = user_group(alice.id)
    live = socket(cookie)
    assert (await live.connect(timeout=5))[0]
    try:
        dead = await layer.new_channel()  # joined after the live socket, never read
        await layer.group_add(group, dead)
        # A send to the group is when the layer drops expired members: send one the socket
        # ignores until the dead channel is gone (its join, and the live socket's first
        # join before it, are then older than the expiry).
        deadline = asyncio.get_running_loop().time() + 30
        while await is_member(layer, group, dead):
            assert asyncio.get_running_loop().time() < deadline, "the dead channel stayed"
            await layer.group_send(group, {"type": "notification.gone", "channel": dead})
            await asyncio.sleep(0.2)
        await layer.group_send(group, message_for([alice.id]))
        received = await live.receive_json_from(timeout=5)
        assert received["type"] == "test.ping"
    finally:
        await live.disconnect()
        await layer.flush()


@pytest.mark.django_db(transaction=True)
async def test_the_one_renewal_loop_runs_while_the_process_holds_a_socket_and_stops_after(
    alice, settings
):
    from channels.db import database_sync_to_async

    from notifications.renewal import process_renewal

    settings.NOTIFICATIONS_RELAY_FROM_DB = False
    cookie = await database_sync_to_async(session_cookie)(alice)
    renewal = process_renewal()
    first, second = socket(cookie), socket(cookie)
    assert (await first.connect(timeout=5))[0]
    assert (await second.connect(timeout=5))[0]
    assert len(renewal.members) == 2
    loop = renewal.task
    assert loop is not None and not loop.done()
    await first.disconnect()
    assert len(renewal.members) == 1
    assert renewal.task is loop and not loop.done()
    await second.disconnect()
    assert renewal.members == {}
    assert renewal.task is None and loop.cancelled()
