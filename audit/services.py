"""The moderation audit log: every action a moderator takes is recorded here, in the same
transaction as the action itself, so there is no action without its record."""

from django.contrib.auth.models import AbstractBaseUser

from audit.models import AuditEntry


def audit_record(
    *,
    actor: AbstractBaseUser,
    action: str,
    target_type: str,
    target_id,
    target_label: str,
    reason: str = "",
    subject: AbstractBaseUser | None = None,
) -> AuditEntry:
    if subject is None and target_type == "user":
        subject_id = int(target_id)
    else:
        subject_id = subject.pk if subject is not None else None
    return AuditEntry.objects.create(
        subject_id=subject_id,
        actor=actor,
        actor_name=actor.get_username(),
        action=action,
        target_type=target_type,
        target_id=str(target_id),
        target_label=str(target_label)[:255],
        reason=reason.strip(),
    )
