"""The per-user notification socket: relays separation events to their owner only."""

import asyncio
import contextlib
from datetime import timedelta

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.conf import settings
from django.utils import timezone

from separation.notifications import job_events_changed_since, user_group

# Rows are stamped before they commit; looking back a little catches a late commit. Events
# already sent with the same state are skipped, so the overlap costs nothing.
RELAY_LOOKBACK = timedelta(seconds=2)


class NotificationConsumer(AsyncJsonWebsocketConsumer):
    async def connect(self):
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close()
            return
        self.user_id = user.pk
        self.group_name = user_group(user.pk)
        self.sent_state: dict[int, tuple[str, int]] = {}
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

    # Channel layer events, named after their types ("separation.progress" and so on).
    async def separation_progress(self, event):
        await self.deliver(event)

    async def separation_done(self, event):
        await self.deliver(event)

    async def separation_failed(self, event):
        await self.deliver(event)

    async def deliver(self, event):
        # Checked again for every event: only the owner's own jobs ever leave this socket.
        if event.get("owner_id") != self.user_id:
            return
        state = (event["status"], event["progress"])
        if self.sent_state.get(event["job_id"]) == state:
            return
        self.sent_state[event["job_id"]] = state
        await self.send_json({key: value for key, value in event.items() if key != "owner_id"})

    async def relay_from_db(self):
        """Embedded mode: no channel layer crosses from the worker process to this one, so
        follow this user's job rows (the source of truth) and send what changed."""
        since = timezone.now() - RELAY_LOOKBACK
        while True:
            await asyncio.sleep(settings.NOTIFICATIONS_POLL_INTERVAL_S)
            events, newest = await database_sync_to_async(job_events_changed_since)(
                user_id=self.user_id, since=since
            )
            for event in events:
                await self.deliver(event)
            since = max(since, newest - RELAY_LOOKBACK)
