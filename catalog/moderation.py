"""The registry of messages moderators send to a track's owner: reusable texts ("copyright
claim", "not music") that the review page offers for the message to the owner. The message is
what the owner reads, on the track page and by e-mail; the moderator's reason is a separate
field, kept for the audit log only. A new template is one row here."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class MessageTemplate:
    name: str  # key: the form's value
    label: str  # in the review page's list
    text: str  # what the owner is told (the moderator may edit it before sending)


MESSAGE_TEMPLATES: tuple[MessageTemplate, ...] = (  # in display order
    MessageTemplate(
        "copyright",
        "Copyright claim",
        "We received a copyright claim about this recording, so it is no longer available to "
        "the people you shared it with. If you hold the rights to it, reply to this e-mail.",
    ),
    MessageTemplate(
        "not-music",
        "Not music",
        "JamWithMe is for songs to practise with, and this upload does not seem to be music, "
        "so it is no longer available to the people you shared it with.",
    ),
    MessageTemplate(
        "offensive",
        "Offensive content",
        "This track was reported as offensive and a moderator agreed, so it is no longer "
        "available to the people you shared it with.",
    ),
)


def get_message_template(name: str) -> MessageTemplate | None:
    return next((template for template in MESSAGE_TEMPLATES if template.name == name), None)
