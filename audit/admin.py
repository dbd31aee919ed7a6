from django.contrib import admin
from django.contrib.auth import get_user_model
from django.db.models import Q

from audit.models import AuditEntry

MODERATE_PERMISSION = "tracks.moderate_track"  # tracks.access.MODERATE_PERMISSION


class ModeratorFilter(admin.SimpleListFilter):
    """Who acted: every name in the log (kept when an account is deleted)."""

    title = "moderator"
    parameter_name = "moderator"

    def lookups(self, request, model_admin):
        names = AuditEntry.objects.order_by("actor_name").values_list("actor_name", flat=True)
        return [(name, name) for name in names.distinct()]

    def queryset(self, request, queryset):
        return queryset.filter(actor_name=self.value()) if self.value() else queryset


class UserFilter(admin.SimpleListFilter):
    """Whose account or tracks an entry concerns."""

    title = "user"
    parameter_name = "user"

    def lookups(self, request, model_admin):
        ids = AuditEntry.objects.exclude(subject=None).values("subject")
        users = get_user_model().objects.filter(pk__in=ids).order_by("username")
        return [(str(user.pk), user.get_username()) for user in users]

    def queryset(self, request, queryset):
        if not self.value() or not self.value().isdigit():
            return queryset
        return queryset.filter(
            Q(subject_id=int(self.value())) | Q(target_type="user", target_id=self.value())
        )


@admin.register(AuditEntry)
class AuditEntryAdmin(admin.ModelAdmin):
    """Read-only for everyone, superusers included: the log cannot be edited or deleted.
    Moderators see it (the permission is named, not imported: audit sits below tracks).
    Reasons wrap (templates/admin/audit/auditentry/change_list.html)."""

    # The reason right after what was done: on a laptop's width, with the filters beside
    # it, the columns after the fourth are off to the side.
    list_display = (
        "created_at",
        "actor_name",
        "action",
        "reason",
        "target_label",
        "subject",
        "target_type",
    )
    list_filter = (ModeratorFilter, "action", UserFilter, "target_type")
    list_select_related = ("subject",)
    search_fields = ("actor_name", "target_label", "target_id", "reason")
    readonly_fields = (
        "created_at",
        "actor",
        "actor_name",
        "action",
        "target_type",
        "target_id",
        "target_label",
        "subject",
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
