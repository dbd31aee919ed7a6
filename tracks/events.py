"""Live events about tracks themselves: new in your library, shared with you, changed, no
longer yours to hear.

`tracks.shared` and `tracks.changed` carry `track_id`, so the socket checks the access rule
before each leaves (see `access.may_hear_event`). `tracks.revoked` goes to people who have
just lost access, so it names the track as `revoked_track_id` (no check could pass) and
carries nothing but its id and what the page should say.
"""

import uuid
from typing import Literal

from notifications.events import Event, publish
from tracks.models import Track

CREATED = "tracks.created"
SHARED = "tracks.shared"
CHANGED = "tracks.changed"
REVOKED = "tracks.revoked"
MODERATED = "tracks.moderated"
REPORT_CLOSED = "tracks.report_closed"


class TrackEvent(Event):
    type: Literal["tracks.created", "tracks.shared", "tracks.changed"]
    track_id: str
    title: str
    message: str
    band_id: str  # tracks.shared: the band it was shared with; "" otherwise


class RevokedEvent(Event):
    type: Literal["tracks.revoked"]
    revoked_track_id: str
    message: str


class ModeratedEvent(Event):
    """To a track's owner: the moderators hid, removed or unhid it. Named by
    `moderated_track_id` (a removed track has no access rule to check). `notice` is what
    happened; `message` the moderators' message to the owner (never their reason)."""

    type: Literal["tracks.moderated"]
    moderated_track_id: str
    action: str  # "hidden", "removed", "unhidden"
    notice: str
    message: str


class ReportClosedEvent(Event):
    """To a reporter: their report was looked at."""

    type: Literal["tracks.report_closed"]
    message: str


def track_moderated_publish(*, owner_id, track_id, action: str, notice: str, message: str):
    publish(
        ModeratedEvent(
            type=MODERATED,
            audience=[owner_id],
            key=f"moderated.{track_id}.{uuid.uuid4().hex[:8]}",
            moderated_track_id=str(track_id),
            action=action,
            notice=notice,
            message=message,
        )
    )


def report_closed_publish(*, user_id, report_id, message: str) -> None:
    publish(
        ReportClosedEvent(
            type=REPORT_CLOSED, audience=[user_id], key=f"report.{report_id}", message=message
        )
    )


def track_created_publish(*, track: Track) -> None:
    """A new track in its owner's library: every library page they have open lists it."""
    publish(
        TrackEvent(
            type=CREATED,
            audience=[track.owner_id],
            key=f"created.{track.id}",
            track_id=str(track.id),
            title=track.title,
            message="",
            band_id="",
        )
    )


def track_shared_publish(*, track: Track, user_ids, band_id, band_name: str) -> None:
    if user_ids:
        publish(
            TrackEvent(
                type=SHARED,
                audience=sorted(user_ids),
                key=f"shared.{track.id}.{uuid.uuid4().hex[:8]}",
                track_id=str(track.id),
                title=track.title,
                message=f"{track.owner.username} shared “{track.title}” with {band_name}.",
                band_id=str(band_id),
            )
        )


def track_changed_publish(*, track: Track, user_ids) -> None:
    """What the listeners may hear or do changed (a share's scope, their band role): pages
    re-fetch."""
    if user_ids:
        publish(
            TrackEvent(
                type=CHANGED,
                audience=sorted(user_ids),
                key=f"changed.{track.id}.{uuid.uuid4().hex[:8]}",
                track_id=str(track.id),
                title=track.title,
                message="",
                band_id="",
            )
        )


def track_revoked_publish(*, track_id, user_ids, message: str) -> None:
    if user_ids:
        publish(
            RevokedEvent(
                type=REVOKED,
                audience=sorted(user_ids),
                key=f"revoked.{track_id}.{uuid.uuid4().hex[:8]}",
                revoked_track_id=str(track_id),
                message=message,
            )
        )
