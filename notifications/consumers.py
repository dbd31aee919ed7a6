"""The one notification socket: every kind of user event, each only to its audience."""

import asyncio
import contextlib
import json
from datetime import timedelta
from importlib import import_module
from types import SimpleNamespace

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.conf import settings
from django.contrib.auth import get_user
from django.utils import timezone

from notifications.events import event_allowed, events_changed_since, user_group

# The close code a socket gets when its session no longer logs the user in (the browser
# then stops reconnecting: a 4xxx code is the application's own).
SESSION_ENDED = 4401

# Rows are stamped before they commit; looking back a little catches a late commit. Events
# already sent with the same state are skipped, so the overlap costs nothing.
RELAY_LOOKBACK = timedelta(seconds=2)


def session_user(session_key: str | None):
    """The user the session logs in now, checked as Django checks every HTTP request (the
    session exists, its password hash still matches, the account is active); None if not."""
    if not session_key:
        return None
    session = import_module(settings.SESSION_ENGINE).SessionStore(session_key)
    user = get_user(SimpleNamespace(session=session))
    return user if user.is_authenticated else None


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
    async def connect(self):
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close()
            return
        self.user_id = user.pk
        self.session_key = self.scope["session"].session_key
        self.group_name = user_group(user.pk)
        self.sent: dict[str, dict] = {}
        self.relay_task = None
        await self.channel_layer.group_add(self.group_name, self.channel_name)
        await self.accept()
        if settings.NOTIFICATIONS_RELAY_FROM_DB:
            self.relay_task = asyncio.create_task(self.relay_from_db())

    async def disconnect(self, code):
        task = getattr(self, "relay_task", None)
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if hasattr(self, "group_name"):
            await self.channel_layer.group_discard(self.group_name, self.channel_name)

    async def receive_json(self, content, **kwargs):
        """The socket is one-way; anything the browser sends is ignored."""

    async def notification_event(self, message):
        await self.deliver(message["event"])

    async def notification_close(self, message):
        """A log-out (of this session, or of every session: a deactivated account)."""
        if message.get("session_key") in (None, self.session_key):
            await self.close(code=SESSION_ENDED)

    async def deliver(self, event: dict):
        outgoing = {name: value for name, value in event.items() if name != "audience"}
        if self.sent.get(event["key"]) == outgoing:
            return
        state = json.dumps(outgoing, sort_keys=True, default=str)
        allowed = await check_event(self.user_id, event, self.session_key, state)
        if allowed is None:
            await self.close(code=SESSION_ENDED)
            return
        if not allowed:
            return
        # Again, after the wait: the relay and the channel layer may have brought the same
        # state at once, and both passed the first check while the other was checking access.
        if self.sent.get(event["key"]) == outgoing:
            return
        self.sent[event["key"]] = outgoing
        await self.send_json(outgoing)

    async def relay_from_db(self):
        """Embedded mode: follow the rows (the source of truth) and send what changed."""
        since = timezone.now() - RELAY_LOOKBACK
        while True:
            await asyncio.sleep(settings.NOTIFICATIONS_POLL_INTERVAL_S)
            events, newest = await database_sync_to_async(events_changed_since)(
                user_id=self.user_id, since=since
            )
            for event in events:
                await self.deliver(event)
            since = max(since, newest - RELAY_LOOKBACK)
