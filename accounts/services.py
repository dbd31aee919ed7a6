import hashlib
import secrets
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import SESSION_KEY
from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import User
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from accounts.mail import SIGN_UP, mail_send_after_commit
from accounts.models import PendingSignUp, Suspension
from accounts.text import username_skeletons
from audit.services import audit_record
from notifications.events import SUSPENDED, close_sockets


def username_looks_taken(*, username: str, exclude_user_id=None) -> bool:
    """Whether ``username`` looks like an existing account's (`accounts.text`'s skeletons:
    "ádmin", "adrnin", or "admin" with a Cyrillic a, beside "admin"; "aIice" beside "alice"),
    that account aside. It reads every username once (about two seconds per million
    accounts): sign-ups are rare."""
    skeletons = username_skeletons(username)
    others = User.objects.exclude(pk=exclude_user_id) if exclude_user_id else User.objects.all()
    return any(
        not skeletons.isdisjoint(username_skeletons(other))
        for other in others.values_list("username", flat=True).iterator(chunk_size=2000)
    )


class SignUpLinkError(Exception):
    """A confirmation link that cannot create the account; the message says why."""


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _link_cutoff():
    return timezone.now() - timedelta(hours=settings.JAM_SIGNUP_LINK_HOURS)


def _send(*, template: str, to: str, context: dict, requester: str) -> None:
    mail_send_after_commit(
        kind=SIGN_UP,
        to=to,
        requester=requester,
        subject=render_to_string(f"registration/{template}_subject.txt", context),
        body=render_to_string(f"registration/{template}_email.txt", context),
    )


def user_sign_up(
    *, username: str, email: str, password: str, base_url: str, requester: str
) -> None:
    """Start a sign-up. Whether or not the address already has an account, the caller gets
    nothing back and the same thing happens to the outside: one e-mail goes to the address
    (after the commit, within the mail limits per address and per ``requester``: over them,
    none, and still the same answer). A new address gets a confirmation link (the account
    is created when it is followed); an address that has an account is told someone tried,
    with links to log in and reset."""
    hashed = make_password(password)  # in both cases, so the time taken tells nothing either
    PendingSignUp.objects.filter(created_at__lt=_link_cutoff()).delete()
    usernames = list(
        User.objects.filter(email__iexact=email).order_by("pk").values_list("username", flat=True)
    )
    if usernames:
        _send(
            template="signup_taken",
            to=email,
            context={
                "usernames": usernames,
                "login_url": base_url + reverse("login"),
                "reset_url": base_url + reverse("password_reset"),
            },
            requester=requester,
        )
        return
    token = secrets.token_urlsafe(32)
    PendingSignUp.objects.create(
        username=username, email=email, password=hashed, token_hash=_token_hash(token)
    )
    _send(
        template="signup_confirm",
        to=email,
        context={
            "username": username,
            "confirm_url": base_url + reverse("signup_confirm", args=[token]),
            "hours": settings.JAM_SIGNUP_LINK_HOURS,
        },
        requester=requester,
    )


def pending_sign_up_for_token(*, token: str) -> PendingSignUp | None:
    """The sign-up a link confirms, or None when it is unknown, used or expired."""
    return PendingSignUp.objects.filter(
        token_hash=_token_hash(token), created_at__gte=_link_cutoff()
    ).first()


def user_confirm_sign_up(*, token: str) -> User:
    """Create the account a confirmation link stands for. A link works once: the pending
    sign-up (and any other for the same address) is gone afterwards."""
    problem = None
    with transaction.atomic():
        pending = (
            PendingSignUp.objects.select_for_update()
            .filter(token_hash=_token_hash(token), created_at__gte=_link_cutoff())
            .first()
        )
        if pending is None:
            raise SignUpLinkError("This link has expired or has already been used.")
        # Whoever follows the link reads that mailbox, so telling them is no leak.
        if User.objects.filter(email__iexact=pending.email).exists():
            problem = "This e-mail address has an account already. Log in, or reset its password."
        elif username_looks_taken(username=pending.username):
            problem = (
                f"Someone took the username “{pending.username}” after you signed up. "
                "Sign up again with another one."
            )
        else:
            user = User(username=pending.username, email=pending.email, password=pending.password)
            user.save()
        PendingSignUp.objects.filter(email__iexact=pending.email).delete()
    if problem:
        raise SignUpLinkError(problem)
    return user


class SuspensionError(ValueError):
    """Refused; the message is shown as is."""


def user_suspend(*, user: User, by, reason: str) -> None:
    """Suspend an account: it cannot log in (and is told why after the right password), its
    sessions and sockets end at once, and its shares stop working (the access rule gives
    nothing to an inactive owner's tracks). Recorded in the audit log."""
    reason = (reason or "").strip()
    if not reason:
        raise SuspensionError("Give a reason: the user is shown it, and it goes in the audit log.")
    if user.pk == by.pk:
        raise SuspensionError("You cannot suspend yourself.")
    if user.is_superuser or (user.is_staff and not by.is_superuser):
        raise SuspensionError("Only a superuser can suspend staff, and nobody a superuser.")
    with transaction.atomic():
        Suspension.objects.update_or_create(
            user=user,
            defaults={"reason": reason, "suspended_by": by, "suspended_at": timezone.now()},
        )
        # Registered first, so the pages hear "suspended" before post_save's plain close.
        user_id = user.pk
        transaction.on_commit(lambda: close_sockets(user_id=user_id, why=SUSPENDED))
        user.is_active = False
        user.save(update_fields=("is_active",))
        audit_record(
            actor=by,
            action="user.suspend",
            target_type="user",
            target_id=user.pk,
            target_label=user.get_username(),
            reason=reason,
        )


def user_reinstate(*, user: User, by, reason: str) -> None:
    reason = (reason or "").strip()
    if not reason:
        raise SuspensionError("Give a reason: it goes in the audit log.")
    with transaction.atomic():
        if not Suspension.objects.filter(user=user).delete()[0]:
            raise SuspensionError("This account is not suspended.")
        user.is_active = True
        user.save(update_fields=("is_active",))
        audit_record(
            actor=by,
            action="user.reinstate",
            target_type="user",
            target_id=user.pk,
            target_label=user.get_username(),
            reason=reason,
        )


def suspension_for_login(*, username: str, password: str) -> Suspension | None:
    """The suspension of the account these credentials open, if they are right and it is
    suspended: only someone who knows the password learns that the account is suspended."""
    user = User.objects.filter(username=username, is_active=False).first()
    if user is None:
        # As long as checking a password: the answer's timing must not tell whether an
        # account is suspended (or inactive) to someone without its password.
        make_password(password)
        return None
    if not user.check_password(password):
        return None
    return Suspension.objects.filter(user=user).first()


def suspension_of_session(session) -> Suspension | None:
    """The suspension of the account this browser's session was signed in to, if it was
    suspended since: the log-in page the session is sent to then says why, instead of a
    bare form (only this browser, which was signed in to the account, is told)."""
    user_id = session.get(SESSION_KEY)
    if user_id is None:
        return None
    return Suspension.objects.filter(user_id=user_id, user__is_active=False).first()
