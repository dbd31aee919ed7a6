"""Sockets follow the session: a log-out closes that session's sockets, a deactivated
account's sockets all close. (Each socket also re-checks its session before every event, for
changes no signal reports, such as a queryset update or a session expiring.)"""

from django.db import transaction

from notifications.events import close_sockets


def close_sockets_on_logout(sender, request, user, **kwargs):
    if user is not None and request is not None and request.session.session_key:
        close_sockets(user_id=user.pk, session_key=request.session.session_key)


def close_sockets_when_deactivated(sender, instance, created, **kwargs):
    if not created and not instance.is_active:
        user_id = instance.pk
        transaction.on_commit(lambda: close_sockets(user_id=user_id))
