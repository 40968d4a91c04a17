"""What the mailer keeps in the read-model database: each email sent or refused for good, at the
position of the event that owed it, and which recorded reminders are known to be reported."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, bindparam, select, union

from bookit.localtime import iso
from bookit.policies.mail.owed import Email
from bookit.projections.database import insert_or_ignore
from bookit.projections.tables import emails_refused, emails_sent

# An email to record at an event's position: sent, or refused for good with the reason.
Record = tuple[Email, int, str | None]

_RECORDED_AMONG = union(
    *(
        select(table.c.message_id).where(table.c.message_id.in_(bindparam("ids", expanding=True)))
        for table in (emails_sent, emails_refused)
    )
)

# The tracked position up to which every recorded reminder is known to be on its booking.
REMINDERS_REPORTED = "mail-reminders-reported"
_REMINDERS_AFTER = (
    select(emails_sent.c.position, emails_sent.c.sent_at)
    .where(emails_sent.c.kind == "reminder", emails_sent.c.position > bindparam("after"))
    .order_by(emails_sent.c.position)
)


def record(conn: Connection, records: list[Record], now: datetime) -> None:
    """Already there when an earlier attempt crashed before moving the position: kept. One
    statement for all the sent ones, one for the refused."""
    sent, refused = [], []
    for email, position, refusal in records:
        row = {
            "message_id": email.message_id,
            "position": position,
            "kind": email.kind,
            "recipient": email.to,
            "subject": email.subject_line,
            "subject_id": email.subject_id,
        }
        if refusal is None:
            sent.append(row | {"sent_at": iso(now)})
        else:
            refused.append(row | {"refused_at": iso(now), "error": refusal})
    for table, rows in ((emails_sent, sent), (emails_refused, refused)):
        if rows:
            conn.execute(insert_or_ignore(table, conn.dialect.name), rows)


def still_owed(conn: Connection, emails: list[Email]) -> list[Email]:
    """Drops the emails already recorded. Only an event owing several emails can have been
    delivered in part (a failure after the first few), so the others cost no query."""
    if len(emails) < 2:
        return emails
    ids = [email.message_id for email in emails]
    recorded = {row[0] for row in conn.execute(_RECORDED_AMONG, {"ids": ids})}
    return [email for email in emails if email.message_id not in recorded]


def reminders_after(conn: Connection, watermark: int) -> list[tuple[int, str]]:
    """(position, sent_at) of each reminder recorded after `watermark`, in order."""
    return [(row.position, row.sent_at) for row in conn.execute(_REMINDERS_AFTER, {"after": watermark})]
