"""Sockets follow the session, pushed where the change happens (nothing is polled): a
log-out closes that session's sockets, a deactivated account's sockets all close, and any
other change to an account (a new password ends the other sessions) makes each of its
sockets check its session once. A suspension closes them with its own reason
(`accounts.services.user_suspend`). Each socket also re-checks its session before every
event it sends, for changes no signal reports (a queryset update, a session expiring)."""

from django.db import transaction

from notifications.events import close_sockets, recheck_sockets


def close_sockets_on_logout(sender, request, user, **kwargs):
    if user is not None and request is not None and request.session.session_key:
        close_sockets(user_id=user.pk, session_key=request.session.session_key)


def follow_account_changes(sender, instance, created, update_fields=None, **kwargs):
    if created or (update_fields is not None and set(update_fields) <= {"last_login"}):
        return  # a new account has no socket; a log-in changes no session's validity
    user_id = instance.pk
    if not instance.is_active:
        transaction.on_commit(lambda: close_sockets(user_id=user_id))
    else:
        transaction.on_commit(lambda: recheck_sockets(user_id=user_id))
