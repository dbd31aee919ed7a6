from django.contrib import admin

from audit.models import AuditEntry

MODERATE_PERMISSION = "tracks.moderate_track"  # tracks.access.MODERATE_PERMISSION


@admin.register(AuditEntry)
class AuditEntryAdmin(admin.ModelAdmin):
    """Read-only for everyone, superusers included: the log cannot be edited or deleted.
    Moderators see it (the permission is named, not imported: audit sits below tracks)."""

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

    def has_view_permission(self, request, obj=None):
        user = request.user
        return user.is_active and user.is_staff and user.has_perm(MODERATE_PERMISSION)

    def has_module_permission(self, request):
        return self.has_view_permission(request)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
