"""Negative checks that wait for an event, never for the clock (docs: STYLE.md, "Tests that
wait on events, not the clock").

"Nothing reached bob" is checked by sending bob a sentinel *after* whatever he must not get,
and taking everything that came before it: the channel layer hands each channel its
messages in the order they were sent, and a consumer handles them one at a time, so by the
time the sentinel comes out, anything sent ahead of it has come out too (or was dropped).
For a socket that follows the job rows (the relay, embedded mode) the sentinel comes from a
relay source instead, polled after the rows: the poll that brings it read them as well.

The timeout below only bounds a hang; a passing check never waits for it.
"""

import asyncio
import itertools

from channels.layers import get_channel_layer

from notifications.events import CHANNEL_MESSAGE, _relay_sources, register_relay_source, user_group

SENTINEL = "test.sentinel"
HANG_S = 10
_keys = itertools.count(1)


def sentinel_event(user_id: int, key: str) -> dict:
    return {"type": SENTINEL, "audience": [user_id], "key": key}


def _is_sentinel(event: dict, key: str) -> bool:
    return event.get("type") == SENTINEL and event.get("key") == key


async def heard_before_a_sentinel(communicator, user_id: int) -> list[dict]:
    """What the user's socket sends before a sentinel sent to the user's group now (every
    other socket of that user in the group gets the sentinel too)."""
    key = f"sentinel.{next(_keys)}"
    message = {"type": CHANNEL_MESSAGE, "event": sentinel_event(user_id, key)}
    await get_channel_layer().group_send(user_group(user_id), message)
    heard = []
    while not _is_sentinel(received := await communicator.receive_json_from(HANG_S), key):
        heard.append(received)
    return heard


async def layer_heard_before_a_sentinel(layer, channel: str) -> list[dict]:
    """The messages waiting in one channel of the layer, up to a sentinel sent to that
    channel now."""
    key = f"sentinel.{next(_keys)}"
    await layer.send(channel, {"type": CHANNEL_MESSAGE, "event": sentinel_event(0, key)})
    heard = []
    while not _is_sentinel(
        (message := await asyncio.wait_for(layer.receive(channel), HANG_S)).get("event", {}), key
    ):
        heard.append(message)
    return heard


class RelaySentinel:
    """A relay source (registered last, so polled after the apps' own) that, once armed for
    a user, gives that user's sockets a sentinel event on every poll; the socket sends it
    once. `heard_before(communicator, user_id)` arms it and returns what the socket sent
    before it: the poll that brought the sentinel read the rows after the arming."""

    def __init__(self):
        self.armed: dict[int, str] = {}
        register_relay_source(self)

    def __call__(self, user_ids, since):
        armed = [(user_id, self.armed.get(user_id)) for user_id in sorted(user_ids)]
        return [sentinel_event(user_id, key) for user_id, key in armed if key], since

    async def heard_before(self, communicator, user_id: int) -> list[dict]:
        key = f"sentinel.{next(_keys)}"
        self.armed[user_id] = key
        heard = []
        while not _is_sentinel(received := await communicator.receive_json_from(HANG_S), key):
            heard.append(received)
        return heard

    def close(self) -> None:
        _relay_sources.remove(self)
