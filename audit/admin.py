from django.contrib import admin

from audit.models import AuditEntry


@admin.register(AuditEntry)
class AuditEntryAdmin(admin.ModelAdmin):
    """Read-only for everyone, superusers included: the log cannot be edited or deleted.
    Seen by whoever has "Can view audit log entry" (the Moderators group has it)."""

    list_display = ("created_at", "actor_name", "action", "target_type", "target_label", "reason")
    list_filter = ("action", "target_type")
    search_fields = ("actor_name", "target_label", "target_id", "reason")
    readonly_fields = (
        "created_at",
        "actor",
        "actor_name",
        "action",
        "target_type",
        "target_id",
        "target_label",
        "reason",
    )
    date_hierarchy = "created_at"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
