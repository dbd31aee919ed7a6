"""Sign-in throttling: what django-axes needs from us (the client's address, forgetting a
user's own failures when they get in, the three counters and their own limits) and the
remaining time of a lockout.

Three counters, each with its own limit within the lockout window (`COUNTERS`):

* **account from this address** (username and address together, JAM_LOGIN_FAILURE_LIMIT):
  someone typing bob's password wrong at the office locks bob out *from the office*;
  alice and the moderator, at the same address, still log in;
* **account** (the username from any address, JAM_LOGIN_USERNAME_LIMIT, higher): many
  addresses guessing one account lock it everywhere;
* **address** (every username from one address, JAM_LOGIN_ADDRESS_LIMIT, much higher): the
  ceiling against password spraying, high enough for an office or a mobile carrier's
  address. Failures on a suspended account do not count here: its owner trying to get in
  is not an attack on the neighbours (they still count against the account).
"""

import math
from dataclasses import dataclass

from axes.handlers.database import AxesDatabaseHandler
from axes.helpers import get_client_username
from axes.models import AccessAttempt
from django.conf import settings
from django.contrib.auth.models import User
from django.db.models import Max, QuerySet, Sum
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


@dataclass(frozen=True)
class Counter:
    """One counter's state for a username and an address: its failures in the window."""

    name: str  # "account from this address", "account", "address"
    failures: int
    limit: int
    newest: object  # the newest counted failure's time, or None

    @property
    def locked(self) -> bool:
        return self.failures >= self.limit

    @property
    def left(self) -> int:
        return max(0, self.limit - self.failures)


PAIR, ACCOUNT, ADDRESS = "account from this address", "account", "address"


def limits() -> dict[str, int]:
    """Each counter's limit, from the settings (JAM_LOGIN_*_LIMIT)."""
    return {
        PAIR: settings.AXES_FAILURE_LIMIT,
        ACCOUNT: settings.JAM_LOGIN_USERNAME_LIMIT,
        ADDRESS: settings.JAM_LOGIN_ADDRESS_LIMIT,
    }


def _suspended_usernames() -> QuerySet:
    return User.objects.filter(is_active=False, suspension__isnull=False).values("username")


def _in_window(now=None) -> QuerySet:
    threshold = (now or timezone.now()) - settings.AXES_COOLOFF_TIME
    return AccessAttempt.objects.filter(attempt_time__gte=threshold)


def counters(*, username: str | None, ip_address: str | None, now=None) -> list[Counter]:
    """The three counters for this username at this address (a missing username has no
    account counters: only the address's)."""
    attempts = _in_window(now)
    chosen = {
        ADDRESS: attempts.filter(ip_address=ip_address).exclude(username__in=_suspended_usernames())
    }
    if username:
        chosen[PAIR] = attempts.filter(username=username, ip_address=ip_address)
        chosen[ACCOUNT] = attempts.filter(username=username)
    found = []
    for name, limit in limits().items():
        if name not in chosen:
            continue
        figures = chosen[name].aggregate(
            failures=Sum("failures_since_start"), newest=Max("attempt_time")
        )
        found.append(Counter(name, figures["failures"] or 0, limit, figures["newest"]))
    return found


class LockoutHandler(AxesDatabaseHandler):
    """django-axes' database handler (it records each failure as before), with the three
    counters above, each against its own limit. Axes compares one number with one limit
    (AXES_FAILURE_LIMIT), so `get_failures` answers in those units: how far the nearest
    counter is from its own limit, counted from AXES_FAILURE_LIMIT (equal to it or more:
    locked)."""

    def get_failures(self, request, credentials=None) -> int:
        found = counters(
            username=get_client_username(request, credentials),
            ip_address=request.axes_ip_address,
            now=request.axes_attempt_time,
        )
        base = settings.AXES_FAILURE_LIMIT
        return max(0, *(base - counter.left for counter in found))


def lockout_minutes_left(*, username: str | None, ip_address: str | None) -> int:
    """Whole minutes (rounded up, at least 1) until the counters that lock this username at
    this address fall under their limits: the newest failure of each locked one leaves the
    window."""
    window = settings.AXES_COOLOFF_TIME
    locked = [c for c in counters(username=username, ip_address=ip_address) if c.locked]
    newest = max((c.newest for c in locked if c.newest), default=None)
    if newest is None:
        return math.ceil(window.total_seconds() / 60)
    left = (newest + window - timezone.now()).total_seconds()
    return max(1, math.ceil(left / 60))


def unlock(*, username: str | None = None, ip_address: str | None = None) -> int:
    """Forget every counted failure of a username (from any address) and/or of an address
    (on any username): the way back for staff that does not depend on where they are
    (`manage.py unlock`). Returns how many records went."""
    attempts = AccessAttempt.objects.none()
    if username:
        attempts = attempts | AccessAttempt.objects.filter(username=username)
    if ip_address:
        attempts = attempts | AccessAttempt.objects.filter(ip_address=ip_address)
    return attempts.delete()[0]
