"""Sockets leave their user's group as they close, and channels-redis's "over capacity"
line says in words what it means."""

import logging
import uuid

import pytest
from channels.layers import get_channel_layer
from django.conf import settings

from notifications.events import user_group
from tests.notifications.test_consumers import session_cookie, socket

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
