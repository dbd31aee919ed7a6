"""No privilege escalation through the admin. Only superusers edit the superuser and staff
flags, groups and permissions (a user's and a group's), so a staff member can never hand
out what they do not hold, to anyone or to themselves. Staff who may change users may
change only accounts that hold nothing (no flag, group or permission) and their own, and
never a privileged account's password or e-mail, which would let them log in as it.
Every change to a role or permission writes an audit entry (accounts.roles).

`PrivilegeGuardedUserAdmin` is the base of the site's user admin (jamwithme/admin.py, which
adds the moderators' views); the group admin is replaced here.

The list of failed sign-ins (django-axes' Access attempts) says what is really locked:
each of the three counters (accounts.throttling) for the row's username and address,
not one row's failures against one limit."""

from axes.admin import AccessAttemptAdmin
from axes.models import AccessAttempt
from django.contrib import admin
from django.contrib.auth.admin import GroupAdmin, UserAdmin
from django.contrib.auth.models import Group

from accounts import roles, throttling
from accounts.forms import GuardedAdminUserCreationForm, GuardedUserChangeForm

USER_PRIVILEGE_FIELDS = ("is_superuser", "is_staff", "groups", "user_permissions")


def _holds_privileges(user) -> bool:
    return bool(
        user.is_superuser or user.is_staff or user.groups.exists() or user.user_permissions.exists()
    )


class PrivilegeGuardedUserAdmin(UserAdmin):
    add_form = GuardedAdminUserCreationForm  # usernames that look like another are refused
    form = GuardedUserChangeForm

    def get_readonly_fields(self, request, obj=None):
        fields = tuple(super().get_readonly_fields(request, obj))
        if request.user.is_superuser or obj is None:
            return fields  # the add form has none of these fields: a new user holds nothing
        return fields + tuple(f for f in USER_PRIVILEGE_FIELDS if f not in fields)

    def _may_touch(self, request, obj) -> bool:
        if obj is None or request.user.is_superuser or obj.pk == request.user.pk:
            return True
        return not _holds_privileges(obj)

    def has_change_permission(self, request, obj=None):
        return super().has_change_permission(request, obj) and self._may_touch(request, obj)

    def has_delete_permission(self, request, obj=None):
        return super().has_delete_permission(request, obj) and self._may_touch(request, obj)

    def save_model(self, request, obj, form, change):
        form.roles_before = roles.user_roles(user_id=obj.pk if change else None)
        super().save_model(request, obj, form, change)

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        roles.user_roles_record(actor=request.user, user=form.instance, before=form.roles_before)


admin.site.unregister(Group)


@admin.register(Group)
class PrivilegeGuardedGroupAdmin(GroupAdmin):
    def get_readonly_fields(self, request, obj=None):
        fields = tuple(super().get_readonly_fields(request, obj))
        return fields if request.user.is_superuser else (*fields, "permissions")

    def has_delete_permission(self, request, obj=None):
        # Deleting a group takes its permissions from its members: a superuser's change.
        return request.user.is_superuser and super().has_delete_permission(request, obj)

    def save_model(self, request, obj, form, change):
        form.permissions_before = roles.group_permissions(group_id=obj.pk if change else None)
        super().save_model(request, obj, form, change)

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        roles.group_permissions_record(
            actor=request.user, group=form.instance, before=form.permissions_before
        )

    def delete_model(self, request, obj):
        roles.group_deletion_record(actor=request.user, group=obj)
        super().delete_model(request, obj)

    def delete_queryset(self, request, queryset):
        for group in queryset:
            roles.group_deletion_record(actor=request.user, group=group)
        super().delete_queryset(request, queryset)


admin.site.unregister(AccessAttempt)


@admin.register(AccessAttempt)
class LockoutAttemptAdmin(AccessAttemptAdmin):
    list_display = ("attempt_time", "username", "ip_address", "failures_since_start", "lockout")
    list_filter = ("attempt_time",)

    @admin.display(description="Locked out?")
    def lockout(self, attempt):
        found = throttling.counters(username=attempt.username, ip_address=attempt.ip_address)
        locked = [c for c in found if c.locked]
        if locked:
            return "Locked: " + "; ".join(
                f"{c.name} ({c.failures} of {c.limit} failures)" for c in locked
            )
        return "Not locked: " + "; ".join(f"{c.name} {c.left} left" for c in found)
