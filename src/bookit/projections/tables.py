"""The read models' tables. Instants are stored as ISO 8601 UTC text ("...Z") so that the same
events give the same rows, byte for byte, on SQLite and PostgreSQL alike."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Boolean, Column, Integer, MetaData, String, Table, Text

metadata = MetaData()

positions = Table(
    "positions",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("position", Integer, nullable=False),
)

venues = Table(
    "venues",
    metadata,
    Column("venue_id", String(64), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("tz", String(64), nullable=False),
)

# The rules in force at each venue (DESIGN rule 12), as JSON with sorted keys, and who set them.
venue_rules = Table(
    "venue_rules",
    metadata,
    Column("venue_id", String(64), primary_key=True),
    Column("rules", Text, nullable=False),
    Column("set_at", String(20)),
    Column("set_by", String(320)),
)

admins = Table("admins", metadata, Column("email", String(320), primary_key=True))

bookings = Table(
    "bookings",
    metadata,
    Column("booking_id", String(36), primary_key=True),
    Column("venue_id", String(64), nullable=False, index=True),
    Column("user", String(320), nullable=False, index=True),
    Column("date", String(10), nullable=False, index=True),
    Column("start", String(5), nullable=False),
    Column("end", String(5), nullable=False),
    Column("starts_at", String(20), nullable=False),
    Column("ends_at", String(20), nullable=False),
    Column("purpose", Text, nullable=False),
    Column("status", String(20), nullable=False),
    Column("confirmed", Boolean, nullable=False),
    Column("reminded", Boolean, nullable=False),
    Column("reminder_delivered_at", String(20)),
    Column("cancel_due", String(20)),
    Column("note", Text, nullable=False),
    Column("booked_at", String(20), nullable=False),
    Column("waitlist_entry_id", String(36)),
)

# Bookings with a check-in (DESIGN rule 14): until when, and whether the owner came.
check_ins = Table(
    "check_ins",
    metadata,
    Column("booking_id", String(36), primary_key=True),
    Column("venue_id", String(64), nullable=False),
    Column("user", String(320), nullable=False, index=True),
    Column("starts_at", String(20), nullable=False),
    Column("ends_at", String(20), nullable=False),
    Column("check_in_until", String(20), nullable=False),
    Column("checked_in_at", String(20)),
    Column("no_show_at", String(20)),
)

# One row per strike (a no-show or a late cancellation), keyed by the booking that earned it.
strikes = Table(
    "strikes",
    metadata,
    Column("booking_id", String(36), primary_key=True),
    Column("user", String(320), nullable=False, index=True),
    Column("venue_id", String(64), nullable=False),
    Column("reason", String(20), nullable=False),
    Column("at", String(20), nullable=False),
    Column("status", String(20), nullable=False),
    Column("changed_by", String(320)),
)

waitlist_slots = Table(
    "waitlist_slots",
    metadata,
    Column("slot_id", String(36), primary_key=True),
    Column("venue_id", String(64), nullable=False),
    Column("date", String(10), nullable=False),
    Column("start", String(5), nullable=False),
    Column("end", String(5), nullable=False),
    Column("starts_at", String(20), nullable=False),
)

waitlist_entries = Table(
    "waitlist_entries",
    metadata,
    Column("entry_id", String(36), primary_key=True),
    Column("slot_id", String(36), nullable=False, index=True),
    Column("venue_id", String(64), nullable=False),
    Column("user", String(320), nullable=False, index=True),
    Column("date", String(10), nullable=False),
    Column("start", String(5), nullable=False),
    Column("end", String(5), nullable=False),
    Column("priority", Integer, nullable=False),
    Column("seq", Integer, nullable=False),
    Column("status", String(20), nullable=False),
    Column("offered_until", String(20)),
    Column("joined_at", String(20), nullable=False),
)

due_timers = Table(
    "due_timers",
    metadata,
    Column("timer_key", String(120), primary_key=True),
    Column("kind", String(20), nullable=False),
    Column("due_at", String(20), nullable=False, index=True),
    Column("subject_id", String(36), nullable=False),
    Column("slot_id", String(36)),
    Column("command_id", String(36), nullable=False, unique=True),
)

audit = Table(
    "audit",
    metadata,
    Column("position", Integer, primary_key=True, autoincrement=False),
    Column("aggregate_id", String(36), nullable=False, index=True),
    Column("version", Integer, nullable=False),
    Column("topic", String(64), nullable=False),
    Column("at", String(20), nullable=False),
    Column("actor", String(320), nullable=False),
    Column("command_id", String(36), nullable=False),
    Column("booking_id", String(36), index=True),
    Column("entry_id", String(36), index=True),
    Column("data", Text, nullable=False),
)


def _email_columns() -> list[Column[Any]]:
    """What both email tables say of an email (a Column belongs to one table: new ones each time)."""
    return [
        Column("message_id", String(200), primary_key=True),
        Column("position", Integer, nullable=False, index=True),
        Column("kind", String(40), nullable=False),
        Column("recipient", String(320), nullable=False, index=True),
        Column("subject", Text, nullable=False),
        Column("subject_id", String(36), nullable=False),
    ]


# Records of side effects, not derivable from events alone: kept across `replay`.
emails_sent = Table("emails_sent", metadata, *_email_columns(), Column("sent_at", String(20), nullable=False))

# Emails a mail server refused for good (a 5xx for that recipient or message): never sent and
# not retried, so that one bad address does not hold every later email behind it.
emails_refused = Table(
    "emails_refused",
    metadata,
    *_email_columns(),
    Column("refused_at", String(20), nullable=False),
    Column("error", Text, nullable=False),
)

# A follower's back-off after failed deliveries, next to its position so a restart keeps it;
# no row means no back-off.
backoffs = Table(
    "backoffs",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("failures", Integer, nullable=False),
    Column("retry_at", String(20), nullable=False),
    Column("failing_since", String(20), nullable=False),
    Column("last_error", Text, nullable=False),
)

refusals = Table(
    "refusals",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("command_id", String(64), index=True),
    Column("received_at", String(20), nullable=False),
    Column("code", String(64), nullable=False),
    Column("error", Text, nullable=False),
    Column("body", Text, nullable=False),
)

# What each HTTP Idempotency-Key was first used for (a hash of the route and the fields), so
# the same key with another request is refused instead of answered with the first's outcome.
idempotency_keys = Table(
    "idempotency_keys",
    metadata,
    Column("key_id", String(36), primary_key=True),  # derived from (actor, key)
    Column("request", String(64), nullable=False),  # sha256 of (operation, fields)
    Column("first_at", String(20), nullable=False),
)

# Rebuilt from the event store by `replay`, and compared by `replay --verify`.
PROJECTED = (
    venues,
    venue_rules,
    admins,
    bookings,
    check_ins,
    strikes,
    waitlist_slots,
    waitlist_entries,
    due_timers,
    audit,
)

# The version of the read models' tables and of what the projections write in them (DESIGN rule
# 20): one row, written when they were last rebuilt for this version (projections/versioned.py).
# Raise READ_MODELS_VERSION with any change to PROJECTED's tables or to the rows a projection
# writes; every process that opens an older database rebuilds them from the events first.
READ_MODELS_VERSION = 1
# The version of what emails each event owes (policies/mail/owed.py; audit/check.py counts them).
# Raise it with any change there: `bookit check` then judges the emails of the events mailed
# from that point on, not those an earlier release mailed under its own rules (the "mail_rules"
# row's `since`, the mailer's position when this version first ran). 2: confirming a booking owes
# a confirmation-received email.
MAIL_RULES_VERSION = 2

read_models_version = Table(
    "read_models_version",
    metadata,
    Column("name", String(64), primary_key=True),  # "read_models", "mail_rules"
    Column("version", Integer, nullable=False),
    Column("at", String(20)),  # when this version was first recorded here
    Column("since", Integer),  # mail_rules: the mailer's position then
)
