from django.contrib import admin
from django.db import transaction
from django.urls import reverse
from django.utils.html import format_html

from audit.actions import with_reason
from audit.services import audit_record
from separation.models import SeparationJob
from separation.services.dispatch import job_cancel, job_retry
from tracks.admin import ModeratorAccess


def _audited(job, by, reason: str, action: str, change, refused: str) -> None:
    """Change the job and record it in the audit log, in one transaction; refuse (ValueError)
    a job the change does not apply to."""
    with transaction.atomic():
        if not change():
            raise ValueError(f"left as it was: {refused}")
        audit_record(
            actor=by,
            action=action,
            target_type="job",
            target_id=job.id,
            target_label=str(job),
            reason=reason,
        )


def _retry(job, by, reason):
    def retry():
        return job_retry(job=job, owner_limit=False)

    _audited(job, by, reason, "job.retry", retry, "not failed or cancelled")


def _cancel(job, by, reason):
    _audited(job, by, reason, "job.cancel", lambda: job_cancel(job=job), "not queued or running")


@admin.register(SeparationJob)
class SeparationJobAdmin(ModeratorAccess, admin.ModelAdmin):
    """Acting on someone's job is moderation: moderators retry and cancel, with a reason."""

    list_display = ("id", "track_link", "owner", "status", "progress", "attempts", "created_at")
    ordering = ("-created_at",)
    list_filter = ("status", "background", "engine_version")
    search_fields = ("track__title", "track__owner__username", "error")
    list_select_related = ("track__owner",)
    readonly_fields = (
        "track_link",
        "status",
        "progress",
        "error",
        "attempts",
        "claimed_by",
        "heartbeat_at",
        "created_at",
        "started_at",
        "finished_at",
        "updated_at",
        "model_name",
        "weights_sha256",
        "engine_version",
        "background",
    )

    @admin.display(ordering="track__owner__username")
    def owner(self, job):
        return job.track.owner

    @admin.display(description="Track", ordering="track__title")
    def track_link(self, job):
        url = reverse("admin:tracks_track_change", args=[job.track_id])
        return format_html('<a href="{}">{}</a>', url, job.track.title)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False  # a job changes only through its services (the actions below)

    def has_delete_permission(self, request, obj=None):
        return False  # a job goes with its track

    actions = (
        with_reason(
            description="Retry the selected failed or cancelled jobs", verb="Retry", apply=_retry
        ),
        with_reason(
            description="Cancel the selected queued or running jobs", verb="Cancel", apply=_cancel
        ),
    )
