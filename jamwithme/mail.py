"""Mail when no mail server is configured and the logs go to a collector (LOG_FORMAT=json):
each message is logged as one redacted line — a hash of the recipient and the subject —
and never its body, which holds one-time links (sign-up, password reset, invitations).
Django's console backend, kept for the plain-log embedded mode, prints the whole message."""

import hashlib
import logging

from django.core.mail.backends.base import BaseEmailBackend

logger = logging.getLogger(__name__)


def recipient_hash(address: str) -> str:
    """Enough to tell two recipients apart in the log, not to read the address back."""
    return hashlib.sha256(address.strip().lower().encode()).hexdigest()[:12]


class RedactedLogBackend(BaseEmailBackend):
    def send_messages(self, email_messages) -> int:
        for message in email_messages:
            logger.warning(
                "Mail not sent (EMAIL_HOST is not set): %r to %s",
                message.subject,
                ", ".join(recipient_hash(address) for address in message.recipients()),
                extra={"mail_subject": message.subject},
            )
        return len(email_messages)
