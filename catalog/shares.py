"""The one registry of share scopes: what a band share or a share link lets people hear.

A scope names the parts of a track ("original", the uploaded mix, and the stems of
`catalog.stems`) that bandmates or anyone holding a link may play (and download, where
they download at all). The access rule (`tracks.access`) reads nothing else, and
`TrackShare.scope` and `ShareLink.scope` take their choices from here (a callable, so
no migration follows a new row): a new scope ("the jam track and the vocals, not the
original") is one row in `SHARE_SCOPES`.
"""

from __future__ import annotations

from dataclasses import dataclass

from catalog.stems import JAM_TRACK, PART_NAMES


@dataclass(frozen=True)
class ShareScope:
    name: str  # key: the form's value, `TrackShare.scope`, `ShareLink.scope`
    # For people, after "they can" / "anyone with the link can": what the scope gives.
    label: str
    parts: tuple[str, ...]  # the parts it lets people hear, by name


SHARE_SCOPES: tuple[ShareScope, ...] = (  # in display order
    ShareScope("jam", "play and download the jam track, nothing else", (JAM_TRACK,)),
    ShareScope(
        "all",
        "play and download the jam track and the vocals, and play the original (not "
        "download it); nothing else",
        PART_NAMES,
    ),
)
DEFAULT_SCOPE = "jam"  # a share or a link made without naming one


def get_share_scope(name: str) -> ShareScope | None:
    """The scope called ``name``, or None for a name the registry does not know. Read from
    `SHARE_SCOPES` at each call, so a row added at run time (a test's) counts at once."""
    return next((scope for scope in SHARE_SCOPES if scope.name == name), None)


def share_scope_choices() -> list[tuple[str, str]]:
    """The model fields' choices (a callable: a new row needs no migration)."""
    return [(scope.name, scope.label) for scope in SHARE_SCOPES]
