"""The admin's view of users, for moderators: tracks and storage per user against the quota,
and suspending or reinstating an account with a reason (recorded in the audit log). It is
assembled here because it reads from several apps (accounts, tracks)."""

from django.conf import settings
from django.contrib import admin
from django.contrib.auth.models import User
from django.db.models import Count, Sum
from django.template.defaultfilters import filesizeformat

from accounts.admin import PrivilegeGuardedUserAdmin
from accounts.forms import AdminLoginForm
from accounts.services import user_reinstate, user_suspend
from audit.actions import with_reason
from tracks.admin import ModeratorAccess

admin.site.login_form = AdminLoginForm  # a suspended account is told so, not "wrong password"
admin.site.unregister(User)


def _suspend(user, by, reason):
    if not user.is_active and hasattr(user, "suspension"):
        raise ValueError("already suspended")
    user_suspend(user=user, by=by, reason=reason)


def _reinstate(user, by, reason):
    user_reinstate(user=user, by=by, reason=reason)  # only a suspended account


class SuspendedFilter(admin.SimpleListFilter):
    title = "suspended"
    parameter_name = "suspended"

    def lookups(self, request, model_admin):
        return (("yes", "Suspended"), ("no", "Not suspended"))

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(suspension__isnull=False)
        if self.value() == "no":
            return queryset.filter(suspension__isnull=True)
        return queryset


@admin.register(User)
class ModeratedUserAdmin(ModeratorAccess, PrivilegeGuardedUserAdmin):
    list_display = (
        "username",
        "email",
        "is_active",
        "suspended",
        "tracks_count",
        "storage_used",
        "quota",
        "is_staff",
        "date_joined",
    )
    list_filter = (SuspendedFilter, *PrivilegeGuardedUserAdmin.list_filter)
    actions = (
        with_reason(description="Suspend the selected users", verb="Suspend", apply=_suspend),
        with_reason(description="Reinstate the selected users", verb="Reinstate", apply=_reinstate),
    )

    def get_actions(self, request):
        """Not Django's "Delete selected users" beside "Suspend": deleting an account is a
        superuser's act on the account's own page, confirmed there."""
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .select_related("suspension")
            .annotate(
                track_total=Count("tracks", distinct=True),
                storage_total=Sum("tracks__assets__size_bytes"),
            )
        )

    @admin.display(description="Suspended")
    def suspended(self, user):
        suspension = getattr(user, "suspension", None)
        return f"Yes: {suspension.reason}" if suspension else "—"

    @admin.display(description="Tracks", ordering="track_total")
    def tracks_count(self, user):
        return user.track_total

    @admin.display(description="Storage used", ordering="storage_total")
    def storage_used(self, user):
        return filesizeformat(user.storage_total or 0)

    @admin.display(description="Quota")
    def quota(self, user):
        quota = settings.JAM_USER_QUOTA_BYTES
        if not quota:
            return "No limit"
        return f"{filesizeformat(quota)} ({round(100 * (user.storage_total or 0) / quota)} %)"
