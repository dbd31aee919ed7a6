"""The band roles, one row each. A membership (and an invitation) stores a role's `value`;
bands reads a row to know who may invite and who may change whose role, and the tracks
access rule (`tracks.access`) reads it to know what a member may do with a track shared
with the band. A new role is a row here plus a migration (the `role` columns list the
choices); the Bands pages, the access rule and the admin follow.

The order is the rank: the Bands page lists members by it, and one role never hands out
a role above itself (`may_give`).
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class BandRole:
    value: str  # what `Membership.role` and `Invitation.role` store
    label: str
    runs_band: bool  # invites people, withdraws invitations, sets the roles of those below
    downloads: bool  # downloads and exports the tracks shared with the band (else only plays)
    meaning: str  # what the role lets someone do, as the Bands page says it

    @property
    def with_article(self) -> str:
        """ "an admin", "a viewer": for sentences."""
        article = "an" if self.label[0] in "AEIOU" else "a"
        return f"{article} {self.label.lower()}"


ROLES = (
    BandRole(
        "owner",
        "Owner",
        runs_band=True,
        downloads=True,
        meaning="runs the band: invites, sets roles, removes members, hands the band over",
    ),
    BandRole(
        "admin",
        "Admin",
        runs_band=True,
        downloads=True,
        meaning="invites people and makes members viewers or members again",
    ),
    BandRole(
        "member",
        "Member",
        runs_band=False,
        downloads=True,
        meaning="plays, downloads and exports the tracks shared with the band",
    ),
    BandRole(
        "viewer",
        "Viewer",
        runs_band=False,
        downloads=False,
        meaning="plays the tracks shared with the band, but downloads and exports nothing",
    ),
)
OWNER = ROLES[0]
_BY_VALUE = {role.value: role for role in ROLES}


def band_role(value: str) -> BandRole | None:
    """The row a stored role names (None for a value that is no role)."""
    return _BY_VALUE.get(value)


def may_give(giver: BandRole, role: BandRole) -> bool:
    """May someone with ``giver``'s role give ``role`` (by an invitation or a change), or
    take it away? The owner gives every role but its own (handing the band over is its own
    action); other roles that run the band give only the roles that do not."""
    if role is OWNER or not giver.runs_band:
        return False
    return giver is OWNER or not role.runs_band


def roles_given_by(giver: BandRole) -> list[BandRole]:
    """The roles ``giver`` may hand out, by rank."""
    return [role for role in ROLES if may_give(giver, role)]


def roles_offered(giver: BandRole, held: BandRole) -> list[BandRole]:
    """The roles ``giver`` may move someone who holds ``held`` to: none when ``held`` is not
    theirs to change (the owner's, another admin's for an admin, their own)."""
    if not may_give(giver, held):
        return []
    return [role for role in roles_given_by(giver) if role is not held]
