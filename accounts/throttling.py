"""Sign-in throttling: what django-axes needs from us (the client's address, forgetting a
user's own failures when they get in) and the remaining time of a lockout."""

import math

from axes.models import AccessAttempt
from django.conf import settings
from django.db.models import Max, Q
from django.http import HttpRequest
from django.utils import timezone


def client_ip(request: HttpRequest) -> str | None:
    """The client's address: REMOTE_ADDR, or behind JAM_TRUSTED_PROXY_COUNT reverse proxies
    the entry the outermost one added to X-Forwarded-For. Entries further left were sent by
    the client and prove nothing; a request that did not pass all the proxies is counted
    under the address it came from."""
    proxies = settings.JAM_TRUSTED_PROXY_COUNT
    remote = request.META.get("REMOTE_ADDR")
    if proxies == 0:
        return remote
    forwarded = [
        part.strip()
        for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")
        if part.strip()
    ]
    if len(forwarded) < proxies:
        return remote
    return forwarded[-proxies]


def forget_own_failures(*, username: str, ip_address: str | None) -> None:
    """A user who got in forgets their own typos from that address. Failures from other
    addresses on the account, and this address's failures on other accounts, still count:
    an attacker must not reset their counters by logging into an account of their own."""
    AccessAttempt.objects.filter(username=username, ip_address=ip_address).delete()


def lockout_minutes_left(*, username: str | None, ip_address: str | None) -> int:
    """Whole minutes (rounded up, at least 1) until the newest counted failure of this
    address or username leaves the lockout window."""
    window = settings.AXES_COOLOFF_TIME
    newest = AccessAttempt.objects.filter(
        Q(ip_address=ip_address) | Q(username=username) if username else Q(ip_address=ip_address)
    ).aggregate(newest=Max("attempt_time"))["newest"]
    if newest is None:
        return math.ceil(window.total_seconds() / 60)
    left = (newest + window - timezone.now()).total_seconds()
    return max(1, math.ceil(left / 60))
