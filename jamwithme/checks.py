"""System checks of the site's own settings, shown by `manage.py check --deploy`."""

from django.conf import settings
from django.core.checks import Warning, register


@register("email", deploy=True)
def email_is_sent(app_configs, **kwargs):
    """Without EMAIL_HOST, mail goes to the console backend: sign-up confirmations and band
    invitations, one-time links included, end up in the web process's log and nobody gets
    them. Right for one machine tried out by its owner, wrong for a site."""
    if settings.EMAIL_HOST:
        return []
    return [
        Warning(
            "EMAIL_HOST is not set: sign-up and invitation e-mails are not sent; with "
            "LOG_FORMAT=plain they are written to the web process's log, one-time links "
            "included (with LOG_FORMAT=json, only a redacted line).",
            hint="Set EMAIL_HOST (and EMAIL_PORT, EMAIL_HOST_USER, EMAIL_HOST_PASSWORD, "
            "DEFAULT_FROM_EMAIL) to your mail server; see docs/deploy.md.",
            id="jamwithme.W001",
        )
    ]
