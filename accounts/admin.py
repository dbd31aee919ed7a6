"""The admin's list of failed sign-ins (django-axes' Access attempts), saying what is really
locked: each of the three counters (accounts.throttling) for the row's username and address,
not one row's failures against one limit."""

from axes.admin import AccessAttemptAdmin
from axes.models import AccessAttempt
from django.contrib import admin

from accounts import throttling

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
