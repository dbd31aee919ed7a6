"""Roles and permissions as the audit log sees them: what an account or a group holds
(superuser and staff flags, groups, permissions; the moderator role is the permission
``tracks.moderate_track``), and one audit entry for each thing that changed. Callers read
the state before a change, make it, then record the difference in the same transaction."""

from dataclasses import dataclass

from django.contrib.auth.models import Group, Permission, User

from audit.services import audit_record


@dataclass(frozen=True)
class UserRoles:
    is_superuser: bool = False
    is_staff: bool = False
    groups: frozenset[str] = frozenset()
    permissions: frozenset[str] = frozenset()


def _labels(permissions) -> frozenset[str]:
    return frozenset(
        f"{app_label}.{codename}"
        for app_label, codename in permissions.values_list("content_type__app_label", "codename")
    )


def user_roles(*, user_id) -> UserRoles:
    """What the account holds now, read from the database (an unsaved account: nothing)."""
    user = User.objects.filter(pk=user_id).first() if user_id is not None else None
    if user is None:
        return UserRoles()
    return UserRoles(
        is_superuser=user.is_superuser,
        is_staff=user.is_staff,
        groups=frozenset(user.groups.values_list("name", flat=True)),
        permissions=_labels(user.user_permissions.all()),
    )


def group_permissions(*, group_id) -> frozenset[str]:
    if group_id is None:
        return frozenset()
    return _labels(Permission.objects.filter(group__pk=group_id))


def _record(*, actor, action: str, target_type: str, target, reason: str) -> None:
    audit_record(
        actor=actor,
        action=action,
        target_type=target_type,
        target_id=target.pk,
        target_label=str(target),
        reason=reason,
    )


def user_roles_record(*, actor, user: User, before: UserRoles) -> int:
    """Write one audit entry per role or permission ``user`` gained or lost since
    ``before``; returns how many."""
    after = user_roles(user_id=user.pk)
    changes: list[tuple[str, str]] = []
    for flag, name in (("is_superuser", "superuser"), ("is_staff", "staff")):
        old, new = getattr(before, flag), getattr(after, flag)
        if old != new:
            verb, done = ("grant", "granted") if new else ("revoke", "revoked")
            changes.append((f"user.{name}.{verb}", f"{name} status {done}"))
    for name in sorted(after.groups - before.groups):
        changes.append(("user.group.add", f"added to group “{name}”"))
    for name in sorted(before.groups - after.groups):
        changes.append(("user.group.remove", f"removed from group “{name}”"))
    for label in sorted(after.permissions - before.permissions):
        changes.append(("user.permission.add", f"permission {label} given"))
    for label in sorted(before.permissions - after.permissions):
        changes.append(("user.permission.remove", f"permission {label} taken away"))
    for action, reason in changes:
        _record(actor=actor, action=action, target_type="user", target=user, reason=reason)
    return len(changes)


def group_permissions_record(*, actor, group: Group, before: frozenset[str]) -> int:
    """One audit entry per permission ``group`` gained or lost since ``before``."""
    after = group_permissions(group_id=group.pk)
    changes = [("group.permission.add", f"permission {p} given") for p in sorted(after - before)]
    changes += [
        ("group.permission.remove", f"permission {p} taken away") for p in sorted(before - after)
    ]
    for action, reason in changes:
        _record(actor=actor, action=action, target_type="group", target=group, reason=reason)
    return len(changes)


def group_deletion_record(*, actor, group: Group) -> None:
    """Deleting a group takes its permissions from every member: say whose and which."""
    members = sorted(group.user_set.values_list("username", flat=True))
    permissions = sorted(group_permissions(group_id=group.pk))
    _record(
        actor=actor,
        action="group.delete",
        target_type="group",
        target=group,
        reason=(
            f"permissions {', '.join(permissions) or 'none'} taken from "
            f"{', '.join(members) or 'nobody'}"
        ),
    )
