"""The CRUD peer: the same booking done without event sourcing, on the same database, same run.

What a plain SQLAlchemy application would do for `bookit book`: in one transaction, read the
venue and the venue-day's live bookings under a lock (`BEGIN IMMEDIATE` on SQLite, `SELECT ...
FOR UPDATE` on PostgreSQL, which also locks the venue's row so two first bookings of an empty
day cannot both pass), check the overlap, insert the booking row and an outbox row. A follower
then composes each outbox row's email with BookIT's own composer and writes it to a Maildir
(fsynced, like BookIT's), and marks the row sent. The clock stops when the last email is
delivered, as it does for BookIT.

The commands are the same `BookVenue` objects on the same slots as the `commands` scenario,
and their local times go through the same `localtime` conversion. SQLite runs with the event
store's durability (WAL, synchronous FULL: every commit is on disk).

Two figures: `book_per_s` with the follower catching up after every booking (the shape of
BookIT's local mode), and `book_batched_per_s` with it catching up once per `follow_every`
bookings (the shape of a worker that batches).
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

from common import NOW, fresh_store, rate, timed
from sqlalchemy import (
    Column,
    Engine,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    bindparam,
    create_engine,
    delete,
    event,
    insert,
    select,
    update,
)
from throughput import booking_slots

from bookit import commands as c
from bookit.adapters.mail import MaildirOutbox, compose_email
from bookit.aggregates.base import derived_id
from bookit.config import Rules
from bookit.localtime import iso, parse_date, parse_time, to_utc

metadata = MetaData()
venues = Table(
    "crud_venues",
    metadata,
    Column("venue_id", String(64), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("tz", String(64), nullable=False),
)
bookings = Table(
    "crud_bookings",
    metadata,
    Column("booking_id", String(36), primary_key=True),
    Column("venue_id", String(64), nullable=False),
    Column("date", String(10), nullable=False),
    Column("user", String(320), nullable=False),
    Column("start", String(5), nullable=False),
    Column("end", String(5), nullable=False),
    Column("starts_at", String(20), nullable=False),
    Column("ends_at", String(20), nullable=False),
    Column("purpose", Text, nullable=False),
    Column("status", String(16), nullable=False),
    Index("crud_bookings_by_day", "venue_id", "date", "status"),
)
outbox = Table(
    "crud_outbox",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("message_id", String(100), nullable=False, unique=True),
    Column("kind", String(32), nullable=False),
    Column("recipient", String(320), nullable=False),
    Column("subject_id", String(36), nullable=False),
    Column("context", Text, nullable=False),
    Column("sent_at", String(20), nullable=True),
    Index("crud_outbox_unsent", "sent_at", "id"),
)

_VENUE = (
    select(venues.c.name, venues.c.tz).where(venues.c.venue_id == bindparam("venue_id")).with_for_update()
)
_LIVE = (
    select(bookings.c.starts_at, bookings.c.ends_at)
    .where(
        bookings.c.venue_id == bindparam("venue_id"),
        bookings.c.date == bindparam("date"),
        bookings.c.status == "booked",
    )
    .with_for_update()
)
_UNSENT = select(outbox).where(outbox.c.sent_at.is_(None)).order_by(outbox.c.id).limit(500)


class SlotTaken(Exception):
    pass


def make_engine(home: Path, url: str) -> Engine:
    if url != "sqlite":
        return create_engine("postgresql+psycopg://" + url.split("://", 1)[1])
    engine = create_engine(f"sqlite:///{home / 'crud.sqlite'}", connect_args={"timeout": 30})

    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we say BEGIN ourselves
        dbapi_connection.execute("PRAGMA journal_mode=WAL")

    @event.listens_for(engine, "begin")
    def _begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")  # the write lock before the read

    return engine


def book(engine: Engine, cmd: c.BookVenue, now: datetime, rules: Rules) -> str:
    """One booking, one transaction: locked read, overlap check, booking row and outbox row."""
    booking_id = str(derived_id("booking", cmd.command_id))
    with engine.begin() as conn:
        venue = conn.execute(_VENUE, {"venue_id": cmd.venue_id}).one()
        day = parse_date(cmd.date)
        starts_at = to_utc(day, parse_time(cmd.start), venue.tz)
        ends_at = to_utc(day, parse_time(cmd.end), venue.tz)
        start_text, end_text = iso(starts_at), iso(ends_at)
        live = conn.execute(_LIVE, {"venue_id": cmd.venue_id, "date": cmd.date})
        if any(s < end_text and start_text < e for s, e in live):  # ISO text orders like instants
            raise SlotTaken(f"{cmd.venue_id} {cmd.date} {cmd.start}-{cmd.end} is taken")
        conn.execute(
            insert(bookings),
            {
                "booking_id": booking_id,
                "venue_id": cmd.venue_id,
                "date": cmd.date,
                "user": cmd.actor,
                "start": cmd.start,
                "end": cmd.end,
                "starts_at": start_text,
                "ends_at": end_text,
                "purpose": cmd.purpose,
                "status": "booked",
            },
        )
        needs_confirmation = starts_at - rules.cancel_lead > now
        context = {
            "name": "",
            "venue_name": venue.name,
            "date": f"{day:%A} {day.day} {day:%B %Y}",
            "start": cmd.start,
            "end": cmd.end,
            "tz": venue.tz,
            "booking_id": booking_id,
            "purpose": cmd.purpose,
            "confirmed": False,
            "reminder_note": (
                "Nothing to do now: we will ask you to confirm it the day before."
                if needs_confirmation
                else "Nothing more to do: this booking needs no confirmation."
            ),
            "tentative": needs_confirmation,
        }
        conn.execute(
            insert(outbox),
            {
                "message_id": f"<{derived_id('email', booking_id, 'booking-confirmed')}@bookit>",
                "kind": "booking-confirmed",
                "recipient": cmd.actor,
                "subject_id": booking_id,
                "context": json.dumps(context),
            },
        )
    return booking_id


def follow(engine: Engine, maildir: MaildirOutbox, now: datetime) -> int:
    """Deliver every unsent outbox row's email and mark it sent; returns how many."""
    delivered = 0
    while True:
        with engine.begin() as conn:
            rows = conn.execute(_UNSENT).all()
            if not rows:
                return delivered
            maildir.deliver_all(
                [
                    compose_email(
                        row.kind,
                        to=row.recipient,
                        message_id=row.message_id,
                        sent_at=now,
                        subject_id=row.subject_id,
                        context=json.loads(row.context),
                    )
                    for row in rows
                ]
            )
            conn.execute(
                update(outbox).where(outbox.c.id.in_([row.id for row in rows])).values(sent_at=iso(now))
            )
        delivered += len(rows)


def run(store: str, size: dict[str, int]) -> dict[str, Any]:
    books, batch = size["book"], size["follow_every"]
    rules = Rules()
    with fresh_store(store) as (home, url):
        engine = make_engine(home, url)
        metadata.create_all(engine)
        venue_ids = [f"venue-{n:03d}" for n in range(size["venues"])]
        with engine.begin() as conn:
            conn.execute(insert(venues), [{"venue_id": v, "name": v, "tz": "UTC"} for v in venue_ids])
        slots = booking_slots(venue_ids, books)
        owners = [f"owner{n:04d}@example.org" for n in range(books)]
        figures: dict[str, float] = {}
        for figure, every in (("book_per_s", 1), ("book_batched_per_s", batch)):
            with engine.begin() as conn:
                conn.execute(delete(bookings))
                conn.execute(delete(outbox))
            maildir = MaildirOutbox(home / f"outbox-{figure}")

            def book_all(maildir: MaildirOutbox = maildir, every: int = every) -> None:
                for n, (owner, slot) in enumerate(zip(owners, slots, strict=True), start=1):
                    book(engine, c.BookVenue(actor=owner, **slot), NOW, rules)
                    if n % every == 0:
                        follow(engine, maildir, NOW)
                follow(engine, maildir, NOW)

            figures[figure] = rate(books, timed(book_all))
            delivered = sum(1 for _ in (maildir.path / "new").iterdir())
            if delivered != books:
                raise AssertionError(f"{figure}: {books} bookings but {delivered} emails delivered")
        engine.dispose()
    return {"figures": figures, "params": dict(size)}
