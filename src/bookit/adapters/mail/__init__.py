"""Email adapter: render notifications and hand them to a Maildir or an SMTP server."""

from bookit.adapters.mail.compose import KINDS, compose_email
from bookit.adapters.mail.outbox import MailDeliveryError, MaildirOutbox, Outbox, SmtpOutbox

__all__ = ["KINDS", "MailDeliveryError", "MaildirOutbox", "Outbox", "SmtpOutbox", "compose_email"]
