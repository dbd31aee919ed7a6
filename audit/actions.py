"""Admin actions that need a reason: the moderator picks objects, gets a page asking why,
and the action runs on each with that reason (which its service writes to the audit log)."""

from collections.abc import Callable

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.template.response import TemplateResponse


def with_reason(
    *, description: str, verb: str, apply: Callable[[object, object, str], None]
) -> Callable:
    """An admin action (permission "moderate") that asks for a reason, then calls
    ``apply(obj, request.user, reason)`` for each selected object. ``apply`` raises
    ValueError with a message to refuse one object."""

    @admin.action(description=description, permissions=("moderate",))
    def action(modeladmin, request, queryset):
        reason = request.POST.get("reason", "").strip()
        if "apply" in request.POST and reason:
            done = 0
            for obj in queryset:
                try:
                    apply(obj, request.user, reason)
                except ValueError as exc:
                    modeladmin.message_user(request, f"{obj}: {exc}", messages.WARNING)
                else:
                    done += 1
            modeladmin.message_user(request, f"{verb}: {done} of {len(queryset)}.")
            return None
        return TemplateResponse(
            request,
            "admin/audit/reason.html",
            {
                **modeladmin.admin_site.each_context(request),
                "title": description,
                "verb": verb,
                "objects": queryset,
                "opts": modeladmin.model._meta,
                "action": request.POST.get("action", ""),
                "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
                "missing_reason": "apply" in request.POST,
            },
        )

    action.__name__ = verb.lower().replace(" ", "_")
    return action
