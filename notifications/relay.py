"""The row relay (embedded mode): one loop per web process, not one per socket.

Without a cross-process channel layer the worker's events cannot reach the web process, so
the web process follows the rows (the truth). Every `NOTIFICATIONS_POLL_INTERVAL_S` the loop
asks each registered relay source once for the rows changed since its last look that
concern any user with a socket open here (one query per source, whatever the number of
sockets), and hands each event to the group of each of those users in its audience: the
consumers then check and send it as they do an event from the channel layer. The loop runs
only while this process holds a socket; 1,000 idle sockets cost what one does.

Only job and export progress is relayed. Session and access changes are pushed by the web
process itself, where they happen (a log-out, a suspension, a new password, a revoked
share: notifications/signals.py, `close_sockets`, `recheck_sockets`, the apps' events).
"""

import asyncio
import contextlib
import logging
import weakref
from collections import Counter
from datetime import timedelta

from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from django.conf import settings
from django.utils import timezone

from notifications.events import CHANNEL_MESSAGE, events_changed_since, user_group

logger = logging.getLogger(__name__)

# Rows are stamped before they commit; looking back a little catches a late commit. Events
# already sent with the same state are skipped by each socket, so the overlap costs nothing.
RELAY_LOOKBACK = timedelta(seconds=2)


class Relay:
    """The users with a socket open in this event loop, and the one loop that follows the
    rows for them while there is any."""

    def __init__(self):
        self.sockets: Counter[int] = Counter()
        self.task: asyncio.Task | None = None

    def join(self, user_id: int) -> None:
        self.sockets[user_id] += 1
        if self.task is None or self.task.done():
            self.task = asyncio.get_running_loop().create_task(self.follow_rows())

    async def leave(self, user_id: int) -> None:
        self.sockets[user_id] -= 1
        if self.sockets[user_id] <= 0:
            del self.sockets[user_id]
        if not self.sockets and self.task is not None:
            task, self.task = self.task, None
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def follow_rows(self) -> None:
        since = timezone.now() - RELAY_LOOKBACK
        layer = get_channel_layer()
        while True:
            await asyncio.sleep(settings.NOTIFICATIONS_POLL_INTERVAL_S)
            users = frozenset(self.sockets)
            if not users:
                continue
            try:
                events, newest = await database_sync_to_async(events_changed_since)(
                    user_ids=users, since=since
                )
            except Exception:  # the database is away: try again at the next look
                logger.warning("The row relay could not read the rows", exc_info=True)
                continue
            for event in events:
                for user_id in sorted(set(event["audience"]) & users):
                    await layer.group_send(
                        user_group(user_id), {"type": CHANNEL_MESSAGE, "event": dict(event)}
                    )
            since = max(since, newest - RELAY_LOOKBACK)


_relays: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Relay]" = weakref.WeakKeyDictionary()


def process_relay() -> Relay:
    """The relay of the running event loop (one per web process; tests get one per loop)."""
    loop = asyncio.get_running_loop()
    relay = _relays.get(loop)
    if relay is None:
        relay = _relays[loop] = Relay()
    return relay
