"""Whether a session still logs its user in, read afresh (the socket's checks, and a
download in progress: `tracks.media.while_signed_in`)."""

from importlib import import_module
from types import SimpleNamespace

from django.conf import settings
from django.contrib.auth import get_user


def session_user(session_key: str | None):
    """The user the session logs in now, checked as Django checks every HTTP request (the
    session exists, its password hash still matches, the account is active); None if not."""
    if not session_key:
        return None
    session = import_module(settings.SESSION_ENGINE).SessionStore(session_key)
    user = get_user(SimpleNamespace(session=session))
    return user if user.is_authenticated else None
