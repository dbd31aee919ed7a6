from django.contrib import admin, messages
from django.urls import reverse
from django.utils.html import format_html

from audit.services import audit_record
from separation.models import SeparationJob
from separation.services.dispatch import job_cancel, job_retry
from tracks.access import is_moderator


@admin.register(SeparationJob)
class SeparationJobAdmin(admin.ModelAdmin):
    list_display = ("id", "track_link", "owner", "status", "progress", "attempts", "created_at")
    ordering = ("-created_at",)
    list_filter = ("status",)
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
    )
    actions = ("retry_jobs", "cancel_jobs")

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

    def has_moderate_permission(self, request):
        """Acting on someone's job is moderation: the one access rule says who moderates."""
        return is_moderator(request.user)

    @admin.action(description="Retry selected failed or cancelled jobs", permissions=("moderate",))
    def retry_jobs(self, request, queryset):
        count = sum(
            self._audited(request, job, "job.retry")
            for job in queryset
            if job_retry(job=job, owner_limit=False)
        )
        self._report(request, count, len(queryset), "queued again", "failed or cancelled")

    @admin.action(description="Cancel selected queued jobs", permissions=("moderate",))
    def cancel_jobs(self, request, queryset):
        count = sum(
            self._audited(request, job, "job.cancel") for job in queryset if job_cancel(job=job)
        )
        self._report(request, count, len(queryset), "cancelled", "queued")

    def _audited(self, request, job, action: str) -> int:
        audit_record(
            actor=request.user,
            action=action,
            target_type="job",
            target_id=job.id,
            target_label=str(job),
        )
        return 1

    def _report(self, request, count: int, chosen: int, done: str, needed: str) -> None:
        if count:
            self.message_user(request, f"{count} job(s) {done}.", messages.SUCCESS)
        if count < chosen:
            skipped = chosen - count
            self.message_user(
                request, f"{skipped} job(s) left as they were: not {needed}.", messages.WARNING
            )
