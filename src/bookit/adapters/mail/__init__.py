"""Email adapter: render notifications and hand them to a Maildir or an SMTP server."""

from bookit.adapters.mail.compose import KINDS, compose_email
from bookit.adapters.mail.outbox import (
    Delivered,
    MailDeliveryError,
    MaildirOutbox,
    OneByOne,
    Outbox,
    SmtpOutbox,
)

__all__ = [
    "KINDS",
    "Delivered",
    "MailDeliveryError",
    "MaildirOutbox",
    "OneByOne",
    "Outbox",
    "SmtpOutbox",
    "compose_email",
]
