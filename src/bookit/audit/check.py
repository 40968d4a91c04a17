"""`bookit check`: docs/design.md's invariants against any store, read-only, in one pass.

The notification log is read once, a page at a time, and every event an invariant is about
(the others are not even decoded) goes through the
`InvariantChecker` (bookit.testing.invariants, the one home of each invariant: no overlapping
live bookings, one open offer per slot, offers in (priority, join order), nobody offered twice
for one freeing, no auto-cancellation without a fair reminder, ...). Beside it, each page's
email-owing events are compared with the emails recorded at their positions: every email owed
is recorded once, sent or refused for good (rule 9). Events the mailer has not reached yet are
not judged: their mail is not late, only not sent yet; nor are those an earlier release mailed
under its own mail rules (before the "mail_rules" position, projections/versioned.py).

Nothing is written: the store and the read models are only read.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any

from eventsourcing.utils import get_topic
from sqlalchemy import Engine, func, select

from bookit.aggregates.booking import Booking
from bookit.aggregates.waitlist import WaitlistSlot
from bookit.projections.tables import emails_refused, emails_sent, positions
from bookit.projections.versioned import mail_rules_since
from bookit.testing.invariants import InvariantChecker, Violation, event_ref

MAILER = "mail"  # the mail follower's tracked position (policies/mail/mailer.py)

_ONE_EMAIL = (
    Booking.Confirmed,
    Booking.AutoCancelWaived,
    Booking.Reminded,
    Booking.AutoCancelled,
    Booking.Cancelled,
    WaitlistSlot.WindowOpened,
    WaitlistSlot.Expired,
    WaitlistSlot.Claimed,
)
_ONE_PER_ENTRY = (WaitlistSlot.Closed, WaitlistSlot.OfferTaken)
_OWING = frozenset((Booking.Booked, WaitlistSlot.Notified, *_ONE_EMAIL, *_ONE_PER_ENTRY))


def emails_owed(event: Any) -> int | None:
    """How many emails the event owes, from the event alone; None when it owes none that can be
    counted so (policies/mail/owed.py says what each one is)."""
    kind = type(event)
    if kind not in _OWING:
        return None
    if kind is Booking.Booked:
        return 0 if event.waitlist_entry_id else 1  # a claim's booking: the claimed email instead
    if kind is WaitlistSlot.Notified:
        return 0 if event.delayed else 1  # quiet hours: sent when its window opens
    if kind in _ONE_PER_ENTRY:
        return len(event.entry_ids)
    return 1


def check_store(
    app: Any, engine: Engine, *, progress: Callable[[int], None] | None = None, page: int = 1000
) -> list[Violation]:
    """Every violation the stored history shows, each with the ids of the events that prove it."""
    checker = InvariantChecker(app.rules)
    mailed_up_to = _mailer_position(engine)
    with engine.connect() as conn:
        mailed_after = mail_rules_since(conn)
    problems: list[Violation] = []
    # Receipts, tickets, allowances... matter to no invariant: left undecoded (a quarter of a
    # busy store's events).
    wanted = checker.topics | {get_topic(event_type) for event_type in _OWING}
    start = 1
    while notifications := app.recorder.select_notifications(start=start, limit=page):
        owed: dict[int, tuple[int, Any]] = {}
        for notification in notifications:
            if notification.topic not in wanted:
                continue
            event = app.mapper.to_domain_event(notification)
            checker.feed(event)
            if mailed_after < notification.id <= mailed_up_to and type(event) in _OWING:
                count = emails_owed(event)
                if count is not None:
                    owed[notification.id] = (count, event)
        if owed:
            problems += _mail_problems(engine, owed)
        start = notifications[-1].id + 1
        if progress is not None:
            progress(len(notifications))
    return checker.report() + problems


def _mailer_position(engine: Engine) -> int:
    with engine.connect() as conn:
        found = conn.execute(select(positions.c.position).where(positions.c.name == MAILER)).scalar()
    return int(found or 0)


def _mail_problems(engine: Engine, owed: dict[int, tuple[int, Any]]) -> list[Violation]:
    """Every owed email recorded once (sent, or refused for good), none twice."""
    low, high = min(owed), max(owed)
    recorded: Counter[int] = Counter()
    with engine.connect() as conn:
        for table in (emails_sent, emails_refused):
            query = (
                select(table.c.position, func.count())
                .where(table.c.position >= low, table.c.position <= high)
                .group_by(table.c.position)
            )
            for position, count in conn.execute(query):
                recorded[position] += count
    problems = []
    for position, (count, event) in sorted(owed.items()):
        if recorded[position] != count:
            problems.append(
                Violation(
                    f"{event.timestamp:%Y-%m-%d %H:%M:%S} {type(event).__qualname__}: owed {count} "
                    f"email(s), {recorded[position]} recorded (sent or refused) at position {position}",
                    (event_ref(event),),
                )
            )
    return problems
