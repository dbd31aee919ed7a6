from django.conf import settings
from django.db import models


class AuditEntry(models.Model):
    """One moderation action: who did what to what, when and why. Written only through
    `audit.services.audit_record`; never changed or deleted (the admin shows it read-only)."""

    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    actor_name = models.CharField(max_length=150)  # kept if the account is deleted
    action = models.CharField(max_length=40, db_index=True)  # "track.hide", "user.suspend", ...
    target_type = models.CharField(max_length=40)  # "track", "user", "job", "report"
    target_id = models.CharField(max_length=64, db_index=True)
    target_label = models.CharField(max_length=255)  # what it was called at the time
    reason = models.TextField(blank=True)
    # Whose account or track it concerns (the admin's "user" filter): the owner of a track
    # acted on, the user suspended. Kept when their things go; empty for the rest (a job).
    subject = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ("-created_at", "-id")
        verbose_name = "audit log entry"
        verbose_name_plural = "audit log"

    def __str__(self) -> str:
        return f"{self.actor_name} {self.action} {self.target_label}"
