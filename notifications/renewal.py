"""Group memberships renewed: one loop per web process, not one timer per socket.

A channel layer forgets a group member `group_expiry` seconds after it joined (channels-redis
keeps the join time as the member's score in the group's sorted set, and drops older members
at each send to the group). A socket leaves its group as it closes; the sockets of a web
process that died (kill -9, a lost machine) never do, so the expiry is what removes them. It
is short (CHANNEL_LAYER_GROUP_EXPIRY_S, an hour), and each open socket joins its group again
every quarter of it, which only refreshes its time: a live socket never expires, a dead one
is gone within the expiry. The loop runs only while this process holds a socket; 1,000 idle
sockets cost one sleeping task and, once a period, one ZADD and one EXPIRE each.
"""

import asyncio
import contextlib
import logging
import weakref

logger = logging.getLogger(__name__)

RENEWALS_PER_EXPIRY = 4


def renewal_period_s(group_expiry: float) -> float:
    """How often an open socket joins its group again: a quarter of the expiry, so a slow
    renewal pass or a missed one (Redis away for a moment) still leaves it in the group."""
    return group_expiry / RENEWALS_PER_EXPIRY


class Renewal:
    """The group memberships of the sockets open in this event loop, and the one loop that
    renews them while there is any."""

    def __init__(self):
        self.members: dict[tuple[str, str], object] = {}  # (group, channel) -> channel layer
        self.task: asyncio.Task | None = None

    def join(self, layer, group: str, channel: str) -> None:
        self.members[(group, channel)] = layer
        if self.task is None or self.task.done():
            self.task = asyncio.get_running_loop().create_task(self.renew())

    async def leave(self, group: str, channel: str) -> None:
        """Before the socket's group_discard, so that no renewal adds it back afterwards."""
        self.members.pop((group, channel), None)
        if not self.members and self.task is not None:
            task, self.task = self.task, None
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def renew(self) -> None:
        while self.members:
            expiry = min(layer.group_expiry for layer in self.members.values())
            await asyncio.sleep(renewal_period_s(expiry))
            for (group, channel), layer in list(self.members.items()):
                if (group, channel) not in self.members:  # it left while we renewed others
                    continue
                try:
                    await layer.group_add(group, channel)
                except Exception:  # Redis is away: the next pass, well within the expiry
                    logger.warning("Could not renew the sockets' group memberships", exc_info=True)
                    break


_renewals: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Renewal]" = (
    weakref.WeakKeyDictionary()
)


def process_renewal() -> Renewal:
    """The renewal of the running event loop (one per web process; tests get one per loop)."""
    loop = asyncio.get_running_loop()
    renewal = _renewals.get(loop)
    if renewal is None:
        renewal = _renewals[loop] = Renewal()
    return renewal
