"""The one notification socket: every kind of user event, each only to its audience."""

import asyncio
import json
import time

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.conf import settings

from notifications.events import SIGNED_OUT, SUSPENDED, event_allowed, user_group
from notifications.relay import process_relay
from notifications.renewal import process_renewal
from notifications.sessions import session_user

# Close codes (4xxx: the application's own). After any of them the page stops reconnecting
# and says why (the socket sends a "notifications.closed" message with the text first).
SESSION_ENDED = 4401  # the session no longer logs the user in: a log-out, a new password
ACCOUNT_SUSPENDED = 4403  # a moderator suspended the account
TOO_MANY_SOCKETS = 4429  # the user opened more than NOTIFICATIONS_MAX_SOCKETS_PER_USER

CLOSED_EVENT = "notifications.closed"
TOO_MANY = "too_many"
ENDINGS = {
    SIGNED_OUT: (
        SESSION_ENDED,
        "You were signed out. Sign in again in another tab; what you typed here is kept.",
    ),
    SUSPENDED: (
        ACCOUNT_SUSPENDED,
        "A moderator suspended your account, so you were signed out. Reload this page to read why.",
    ),
    TOO_MANY: (
        TOO_MANY_SOCKETS,
        "Live updates stopped on this page: your account has too many pages open. "
        "Reload it to follow updates here again.",
    ),
}


def may_receive(user_id: int, event: dict, session_key: str | None = None) -> bool | None:
    """Checked for every event, whoever sent it: the socket's session still logs the user
    in, the user is in the event's audience, and every check the apps registered passes
    (for an event about a track: the one access rule still lets the user listen). Read
    afresh each time, so a log-out, a password change, a deactivated account or a revoked
    permission counts at once. None: the session no longer logs this user in, and the
    socket should close."""
    user = session_user(session_key)
    if user is None or user.pk != user_id:
        return None
    if user_id not in event.get("audience", ()):
        return False
    return event_allowed(user, event)


# The checks under way in this process, by (user, session, event state). A user with several
# tabs open (one session, a socket each) gets every event once per socket; the sockets that
# receive the same state at the same time share one check, made after the event was sent,
# instead of each reading the same rows again. Nothing is kept once a check has answered.
_checks_in_flight: dict[tuple, asyncio.Future] = {}


async def check_event(user_id: int, event: dict, session_key: str | None, state: str):
    """`may_receive`, made once for every socket of this process that is waiting on the
    same answer; run on a thread of its own (not the one thread that Channels otherwise
    runs every socket's database calls on, one after another)."""
    key = (user_id, session_key, event["key"], state)
    check = _checks_in_flight.get(key)
    if check is None:
        check = asyncio.ensure_future(
            database_sync_to_async(may_receive, thread_sensitive=False)(user_id, event, session_key)
        )
        _checks_in_flight[key] = check
        check.add_done_callback(lambda _: _checks_in_flight.pop(key, None))
    # A socket that closes while it waits must not cancel the others' check.
    return await asyncio.shield(check)


class NotificationConsumer(AsyncJsonWebsocketConsumer):
    """One per open page. Idle, it costs nothing: nothing is polled per socket. Changes come
    as channel-layer messages to the user's group: events (checked before each one leaves),
    a close (a log-out, a suspension), a recheck of the session (a new password), and the
    opening and closing of the user's other sockets, which enforce the per-user cap on every
    node: a socket that hears of NOTIFICATIONS_MAX_SOCKETS_PER_USER newer ones closes."""

    async def connect(self):
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close()
            return
        self.user_id = user.pk
        self.session_key = self.scope["session"].session_key
        self.group_name = user_group(user.pk)
        self.sent: dict[str, dict] = {}
        self.ended = False
        # Which of two sockets is older: opening time, then channel name (across nodes).
        self.opened = (time.time(), self.channel_name)
        self.newer: set[str] = set()
        self.relay = None
        await self.channel_layer.group_add(self.group_name, self.channel_name)
        # Joined again every quarter of the group expiry, by one loop for the whole process:
        # a crashed process's channels expire from the group, this socket's never do.
        process_renewal().join(self.channel_layer, self.group_name, self.channel_name)
        await self.accept()
        await self.channel_layer.group_send(
            self.group_name,
            {"type": "notification.opened", "channel": self.channel_name, "at": self.opened[0]},
        )
        if settings.NOTIFICATIONS_RELAY_FROM_DB:
            self.relay = process_relay()
            self.relay.join(self.user_id)

    async def disconnect(self, code):
        if getattr(self, "relay", None) is not None:
            relay, self.relay = self.relay, None
            await relay.leave(self.user_id)
        if hasattr(self, "group_name"):
            await process_renewal().leave(self.group_name, self.channel_name)
            await self.channel_layer.group_discard(self.group_name, self.channel_name)
            await self.channel_layer.group_send(
                self.group_name, {"type": "notification.gone", "channel": self.channel_name}
            )

    async def receive_json(self, content, **kwargs):
        """The socket is one-way; anything the browser sends is ignored."""

    async def end(self, why: str) -> None:
        """Tell the page why, then close with that reason's code (once)."""
        if self.ended:
            return
        self.ended = True
        code, message = ENDINGS[why]
        await self.send_json({"type": CLOSED_EVENT, "why": why, "code": code, "message": message})
        await self.close(code=code)

    async def notification_event(self, message):
        if not self.ended:
            await self.deliver(message["event"])

    async def notification_close(self, message):
        """A log-out (of this session), a deactivated or suspended account (every session)."""
        if message.get("session_key") in (None, self.session_key):
            await self.end(message.get("why") or SIGNED_OUT)

    async def notification_recheck(self, message):
        """The account changed (a new password): does the session still log the user in?"""
        if self.ended:
            return
        user = await database_sync_to_async(session_user, thread_sensitive=False)(self.session_key)
        if user is None or user.pk != self.user_id:
            await self.end(SIGNED_OUT)

    async def notification_opened(self, message):
        """Another socket of this user opened (here or on another node)."""
        other = (message["at"], message["channel"])
        if self.ended or message["channel"] == self.channel_name or other < self.opened:
            return
        self.newer.add(message["channel"])
        if len(self.newer) >= settings.NOTIFICATIONS_MAX_SOCKETS_PER_USER:
            await self.end(TOO_MANY)

    async def notification_gone(self, message):
        self.newer.discard(message["channel"])

    async def deliver(self, event: dict):
        outgoing = {name: value for name, value in event.items() if name != "audience"}
        if self.sent.get(event["key"]) == outgoing:
            return
        state = json.dumps(outgoing, sort_keys=True, default=str)
        allowed = await check_event(self.user_id, event, self.session_key, state)
        if allowed is None:
            await self.end(SIGNED_OUT)
            return
        if not allowed or self.ended:
            return
        # Again, after the wait: the relay and the channel layer may have brought the same
        # state at once, and both passed the first check while the other was checking access.
        if self.sent.get(event["key"]) == outgoing:
            return
        self.sent[event["key"]] = outgoing
        await self.send_json(outgoing)
