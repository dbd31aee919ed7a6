"""Outgoing mail asked for by visitors (password resets, sign-ups, band invitations): one
place that limits it and sends it.

Each kind of mail is counted per recipient address and per requester (the logged-in
account, else the client's address) in the cache: Redis in the scale-out mode, the
process's memory in the embedded one (a single web process). A mail over either limit is
dropped quietly: the person asking sees the same answer whether or not a mail went out,
so the answer tells nothing about the address either. Mail leaves after the transaction
commits (`transaction.on_commit`), never while a row lock is held, and a mail server that
fails is logged, not shown."""

import hashlib
import logging
from collections.abc import Callable

from django.conf import settings
from django.core.cache import cache
from django.core.mail import send_mail
from django.db import transaction
from django.http import HttpRequest

from accounts.text import strip_bidi
from accounts.throttling import client_ip

logger = logging.getLogger(__name__)

PASSWORD_RESET = "password-reset"
SIGN_UP = "sign-up"
INVITATION = "invitation"


def site_url(request: HttpRequest) -> str:
    """The address links in mail start with: JAM_SITE_URL when it is set, otherwise the
    scheme, host and port this request came to."""
    return settings.JAM_SITE_URL or f"{request.scheme}://{request.get_host()}"


def requester_of(request: HttpRequest) -> str:
    """Who is asking, for the per-requester limit: an account, or an address."""
    if request.user.is_authenticated:
        return f"user:{request.user.pk}"
    return f"ip:{client_ip(request)}"


def _hit(key: str, *, window_s: int) -> int:
    """Count one more in ``key``'s window (which starts at its first count); the count."""
    cache.add(key, 0, timeout=window_s)
    try:
        return cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.add(key, 1, timeout=window_s)
        return 1


def _key(kind: str, who: str) -> str:
    # Hashed: the cache holds no e-mail or IP address in the clear.
    return f"mail-limit:{kind}:{hashlib.sha256(who.encode()).hexdigest()}"


def mail_allowed(*, kind: str, recipient: str, requester: str) -> bool:
    """Count a mail of ``kind`` to ``recipient`` asked for by ``requester``; True while
    both are within their limits for the window (both are counted either way)."""
    window_s = settings.JAM_MAIL_LIMIT_WINDOW_MINUTES * 60
    to_recipient = _hit(_key(kind, f"to:{recipient.strip().lower()}"), window_s=window_s)
    by_requester = _hit(_key(kind, f"by:{requester}"), window_s=window_s)
    return (
        to_recipient <= settings.JAM_MAIL_PER_RECIPIENT
        and by_requester <= settings.JAM_MAIL_PER_REQUESTER
    )


def _deliver(send) -> None:
    try:
        send()
    except OSError:  # smtplib's errors included
        logger.warning("Could not send a mail", exc_info=True)


def mail_after_commit(*, kind: str, to: str, requester: str, send: Callable[[], None]) -> bool:
    """Call ``send`` (which sends one mail of ``kind`` to ``to``) once the current
    transaction commits, if the limits allow it. Returns whether it was queued: callers
    must not let the answer depend on it."""
    if not mail_allowed(kind=kind, recipient=to, requester=requester):
        logger.info("Mail limit reached: a %s mail was not sent", kind)
        return False
    transaction.on_commit(lambda: _deliver(send))
    return True


def mail_send_after_commit(*, kind: str, to: str, requester: str, subject: str, body: str) -> bool:
    """`mail_after_commit` for a plain message; the subject loses bidi controls and line
    breaks."""
    subject = " ".join(strip_bidi(subject).split())
    return mail_after_commit(
        kind=kind,
        to=to,
        requester=requester,
        send=lambda: send_mail(subject, body, None, [to]),
    )
