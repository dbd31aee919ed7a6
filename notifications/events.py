"""Live events for users: typed, each naming its audience, delivered over one socket.

An event is a TypedDict with at least `type` (namespaced: "separation.done"), `audience`
(the ids of the users who may receive it) and `key` (what it is about, e.g. "job.12": a
socket never sends the same state of one key twice). Apps that act on data (separation
now; bands and sharing next) build their events and call `publish`; the browser's handler
is keyed by `type`. Events about a track carry `track_id`, and the socket checks the track's
access rule again before each one leaves (see consumers.py).
"""

import logging
from collections.abc import Callable
from datetime import datetime
from typing import TypedDict

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

logger = logging.getLogger(__name__)

# The channel-layer message type every event travels in ("notification.event" calls
# NotificationConsumer.notification_event); the event's own `type` is inside.
CHANNEL_MESSAGE = "notification.event"


class Event(TypedDict):
    type: str
    audience: list[int]
    key: str


def user_group(user_id: int) -> str:
    return f"user.{user_id}"


def publish(event: Event) -> None:
    """Send an event to the group of each user in its audience. Best effort: the database
    stays the truth, so a channel layer that is down is logged, never raised."""
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        for user_id in sorted(set(event["audience"])):
            async_to_sync(layer.group_send)(
                user_group(user_id), {"type": CHANNEL_MESSAGE, "event": dict(event)}
            )
    except Exception:  # a notification must never fail the work that sent it
        logger.warning("Could not publish %s (%s)", event["type"], event["key"], exc_info=True)


# The channel-layer message that closes a user's sockets ("notification.close" calls
# NotificationConsumer.notification_close): those of one session, or all of them. `why`
# says what the page is told: "signed_out" (a log-out, a deactivated account) or
# "suspended" (a moderator suspended the account).
CLOSE_MESSAGE = "notification.close"
SIGNED_OUT = "signed_out"
SUSPENDED = "suspended"

# The channel-layer message that makes each of a user's sockets check its session again
# ("notification.recheck"): the account changed (a new password ends the other sessions).
RECHECK_MESSAGE = "notification.recheck"


def _send_to_user(user_id: int, message: dict) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        async_to_sync(layer.group_send)(user_group(user_id), message)
    except Exception:  # best effort, like `publish`
        logger.warning("Could not send %s to user %s", message["type"], user_id, exc_info=True)


def close_sockets(*, user_id: int, session_key: str | None = None, why: str = SIGNED_OUT) -> None:
    """Close the user's open sockets at once: only those of ``session_key`` (a log-out), or
    every one (the account was deactivated or suspended). Best effort, like `publish`: each
    socket also checks its session before every event it sends."""
    _send_to_user(user_id, {"type": CLOSE_MESSAGE, "session_key": session_key, "why": why})


def recheck_sockets(*, user_id: int) -> None:
    """Each open socket of the user checks its session again (one query per socket, on
    this push only) and closes if the session no longer logs the user in."""
    _send_to_user(user_id, {"type": RECHECK_MESSAGE})


# --- Checks every event passes before it leaves a socket ------------------------------------
# Apps that own data register what a user must be allowed to see for an event about it
# (tracks: an event carrying `track_id` needs the track's access rule to say "listen"), so
# this app, at the bottom of the house, imports none of them.
EventCheck = Callable[[object, dict], bool]
_event_checks: list[EventCheck] = []


def register_event_check(check: EventCheck) -> None:
    if check not in _event_checks:
        _event_checks.append(check)


def event_allowed(user, event: dict) -> bool:
    """Every registered check lets ``user`` (active, logged in) receive ``event``."""
    return all(check(user, event) for check in _event_checks)


# --- The row relay (embedded mode) --------------------------------------------------------
# Without a cross-process channel layer the worker's events cannot reach the web process.
# Apps register a source that rebuilds their events from the rows (the truth) changed since
# a moment, for a set of users (those with a socket open in this process); one loop per
# process polls them (notifications/relay.py), not one per socket.
RelaySource = Callable[[frozenset[int], datetime], tuple[list[Event], datetime]]
_relay_sources: list[RelaySource] = []


def register_relay_source(source: RelaySource) -> None:
    if source not in _relay_sources:
        _relay_sources.append(source)


def events_changed_since(
    *, user_ids: frozenset[int], since: datetime
) -> tuple[list[Event], datetime]:
    """The events about rows changed at or after `since` that concern any of ``user_ids``
    (each event names its whole audience), and the newest write seen."""
    events: list[Event] = []
    newest = since
    for source in _relay_sources:
        found, seen = source(user_ids, since)
        events.extend(found)
        newest = max(newest, seen)
    return events, newest
