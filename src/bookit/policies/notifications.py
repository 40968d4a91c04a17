"""Policy: every email is derived from one stored event, and sent at most once per event.

The mailer follows the event store like a projection. For each event that owes someone an
email it composes the message (Message-ID derived from the event), delivers it, and records
the delivery with its tracked position in one transaction. A crash after delivery and before
the record re-delivers the same Message-ID, which the Maildir outbox recognises and skips.

A delivered reminder is reported back as a command, because the booking must know when its
owner was really told (rule 5: no auto-cancellation without a fair chance to confirm). The
command runs after the email is recorded, so a crash in between would lose it: every pass
therefore first reissues the command for each recorded reminder that has no receipt yet, from
a watermark of reminders known to be reported, so it looks only at the newest few.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from eventsourcing.application import Application
from eventsourcing.utils import get_topic
from sqlalchemy import Connection, Engine, Table, bindparam, insert, select, union
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError as RowExists

from bookit import commands as c
from bookit.adapters.mail import MailDeliveryError, Outbox, compose_email
from bookit.aggregates.base import SYSTEM, derived_id, event_id
from bookit.aggregates.booking import Booking
from bookit.aggregates.receipt import CommandReceipt
from bookit.aggregates.venue import Venue
from bookit.aggregates.waitlist import WaitlistSlot
from bookit.links import Link, LinkSigner
from bookit.localtime import from_iso, iso
from bookit.policies import backoff
from bookit.policies.backoff import Backoff
from bookit.projections import queries
from bookit.projections.database import advance, position_of
from bookit.projections.tables import emails_refused, emails_sent

log = logging.getLogger(__name__)


# Which event owes whom which email. Every other event is passed without being decoded.
BOOKING_EMAILS: dict[type, str] = {
    Booking.Booked: "booking-confirmed",
    Booking.Reminded: "reminder",
    Booking.AutoCancelled: "auto-cancelled",
}
ENTRY_EMAILS: dict[type, str] = {
    WaitlistSlot.Notified: "waitlist-offer",
    WaitlistSlot.Expired: "waitlist-expired",
    WaitlistSlot.Claimed: "waitlist-claimed",
    WaitlistSlot.Closed: "waitlist-closed",
}
MAILED_TOPICS = frozenset(get_topic(cls) for cls in (*BOOKING_EMAILS, *ENTRY_EMAILS))

# Inserts that keep an existing row, where the dialect has one (a savepoint elsewhere).
_KEEP_EXISTING = {
    (table.name, name): dialect.insert(table).on_conflict_do_nothing()
    for table in (emails_sent, emails_refused)
    for name, dialect in (("sqlite", sqlite), ("postgresql", postgresql))
}
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


@dataclass(frozen=True)
class Email:
    kind: str
    to: str
    subject_id: str
    context: dict[str, Any]
    message_id: str


@dataclass
class Delivery:
    """What became of one event's emails."""

    sent: list[Email] = field(default_factory=list)
    refused: list[tuple[Email, str]] = field(default_factory=list)  # for good: not retried
    error: MailDeliveryError | None = None  # worth retrying: this email and the rest wait

    def records(self, position: int) -> list[Record]:
        return [(email, position, None) for email in self.sent] + [
            (email, position, reason) for email, reason in self.refused
        ]


# An email to record at an event's position: sent, or refused for good with the reason.
Record = tuple[Email, int, str | None]


class Mailer:
    name = "mail"

    def __init__(
        self,
        app: Application[Any],
        engine: Engine,
        outbox: Outbox,
        links: LinkSigner,
        offer_minutes: int = 15,
        batch_size: int = 200,
        retry_first: timedelta = timedelta(seconds=30),
        retry_cap: timedelta = timedelta(minutes=15),
    ) -> None:
        self.app = app
        self.engine = engine
        self.outbox = outbox
        self.links = links
        self.offer_minutes = offer_minutes
        self.batch_size = batch_size
        self.retry_first = retry_first
        self.retry_cap = max(retry_cap, retry_first)
        self._venues: dict[str, Venue] = {}
        self.backoff = Backoff()  # as the last pass read or left it
        self.position = 0  # where the last pass left the tracked position, as far as it saw

    @property
    def last_error(self) -> str | None:
        return self.backoff.last_error or None

    def catch_up(self, now: datetime) -> tuple[int, list[c.Command]]:
        """Send what is owed; returns (events passed, follow-up commands to run).

        After a delivery fails for a reason that may pass, nothing is tried before the back-off
        allows it: until then this returns at once, so commands never wait on a failing server.
        """
        with self.engine.connect() as conn:
            watermark = position_of(conn, REMINDERS_REPORTED)
            reminders = [
                (row.position, row.sent_at) for row in conn.execute(_REMINDERS_AFTER, {"after": watermark})
            ]
            self.backoff = backoff.load(conn, self.name)
            conn.commit()
        follow_ups = self._unreported_reminders(watermark, reminders) if reminders else []
        if self.backoff.holds(now):
            return 0, follow_ups
        passed = 0
        while True:
            with self.engine.connect() as conn:
                self.position = position_of(conn, self.name)
                conn.commit()
            notifications = self.app.recorder.select_notifications(
                start=self.position + 1, limit=self.batch_size
            )
            if not notifications:
                return passed, follow_ups
            # One commit per email-owing event, not one per event: the events that owe nobody an
            # email (most of them) are passed undecoded and recorded as passed with the emails of
            # the event before or after them. Delivered emails are recorded before the next
            # event's are sent, so a crash still re-delivers at most one event's emails.
            last, unrecorded = self.position, 0
            done: list[Record] = []
            reminded: list[c.Command] = []
            for notification in notifications:
                if notification.topic in MAILED_TOPICS:
                    if done:
                        if not self._commit(done, last, now):
                            return passed, follow_ups  # another worker's mailer got here first
                        passed, unrecorded, done = passed + unrecorded, 0, []
                        follow_ups += reminded
                        reminded = []
                    event = self.app.mapper.to_domain_event(notification)
                    delivery = self._deliver(self._still_owed(list(self.emails_for(event))), now)
                    if delivery.error is not None:
                        # Keep the position at this event: the next allowed pass retries from it.
                        self._back_off(delivery.error, delivery.records(notification.id), now)
                        if unrecorded and self._commit([], last, now):
                            passed += unrecorded
                        return passed, follow_ups
                    if self.backoff.failures:
                        self._end_back_off()
                    done = delivery.records(notification.id)
                    if delivery.sent and isinstance(event, Booking.Reminded):
                        reminded.append(_reminder_delivered(event, now))
                last, unrecorded = notification.id, unrecorded + 1
            if not self._commit(done, last, now):
                return passed, follow_ups
            passed += unrecorded
            follow_ups += reminded
            if len(notifications) < self.batch_size:
                return passed, follow_ups  # that was the end of the log when it was read

    def refused(self) -> list[dict[str, Any]]:
        """The emails a server refused for good, oldest first: never sent, never retried."""
        return queries.outbox(self.engine, refused=True)

    def _unreported_reminders(self, watermark: int, reminders: list[tuple[int, str]]) -> list[c.Command]:
        """`RecordReminderDelivery` again for each reminder recorded after the watermark whose
        command never ran (a crash between the record and the command); the watermark moves
        past the ones that did."""
        unreported: list[c.Command] = []
        reported = watermark
        for position, sent_at in reminders:
            command = self._reminder_at(position, from_iso(sent_at))
            if command is None or CommandReceipt.id_for(command.command_id) in self.app.repository:
                if not unreported:
                    reported = position  # only a run with no gap, so none is skipped for ever
                continue
            unreported.append(command)
        if reported != watermark:
            with self.engine.begin() as conn:
                advance(conn, REMINDERS_REPORTED, watermark, reported)  # lost race: the other moved it
        if unreported:
            log.warning("reissuing %d reminder deliveries that were never recorded", len(unreported))
        return unreported

    def _reminder_at(self, position: int, delivered_at: datetime) -> c.Command | None:
        notifications = self.app.recorder.select_notifications(start=position, limit=1)
        if not notifications or notifications[0].id != position:
            return None  # not a stored event: nothing to report
        event = self.app.mapper.to_domain_event(notifications[0])
        if not isinstance(event, Booking.Reminded):
            return None
        return _reminder_delivered(event, delivered_at)

    def _commit(self, done: list[Record], position: int, now: datetime) -> bool:
        """Record the delivered and refused emails and move the tracked position to `position`,
        atomically; False if another mailer moved it first."""
        with self.engine.begin() as conn:
            for email, source, refusal in done:
                self._record(conn, email, source, now, refusal)
            if not advance(conn, self.name, self.position, position):
                conn.rollback()
                return False
        self.position = position
        return True

    def _back_off(self, error: MailDeliveryError, done: list[Record], now: datetime) -> None:
        self.backoff = self.backoff.after_failure(error.reason, now, self.retry_first, self.retry_cap)
        with self.engine.begin() as conn:
            backoff.save(conn, self.name, self.backoff)
            # What did go out of this event is recorded now, so the retry does not send it twice.
            for email, source, refusal in done:
                self._record(conn, email, source, now, refusal)
        log.warning(
            "mail delivery failed (%d in a row), next attempt not before %s: %s",
            self.backoff.failures,
            iso(self.backoff.retry_at),
            error.reason,
        )

    def _end_back_off(self) -> None:
        # The server answered: the next failure waits the first delay again.
        log.info("mail delivery resumed after %d failed attempts", self.backoff.failures)
        self.backoff = Backoff()
        with self.engine.begin() as conn:
            backoff.save(conn, self.name, self.backoff)

    def _still_owed(self, emails: list[Email]) -> list[Email]:
        """Drops the emails already recorded. Only an event owing several emails can have been
        delivered in part (a failure after the first few), so the others cost no query."""
        if len(emails) < 2:
            return emails
        ids = [email.message_id for email in emails]
        with self.engine.connect() as conn:
            recorded = {row[0] for row in conn.execute(_RECORDED_AMONG, {"ids": ids})}
        return [email for email in emails if email.message_id not in recorded]

    def _deliver(self, emails: list[Email], now: datetime) -> Delivery:
        messages = [
            compose_email(
                email.kind,
                to=email.to,
                message_id=email.message_id,
                sent_at=now,
                subject_id=email.subject_id,
                context=email.context,
            )
            for email in emails
        ]
        # A Maildir syncs its directory once for all of an event's emails (a closed queue tells
        # everyone still in it), and delivers each Message-ID once however often it is asked, so
        # any failure there is retried whole. Any other outbox takes them one by one.
        deliver_all = getattr(self.outbox, "deliver_all", None)
        if deliver_all is not None:
            try:
                deliver_all(messages)
            except MailDeliveryError as error:
                return Delivery(error=error)
            return Delivery(sent=emails)
        delivery = Delivery()
        for email, message in zip(emails, messages, strict=True):
            try:
                self.outbox.deliver(message)
            except MailDeliveryError as error:
                if not error.permanent:
                    delivery.error = error
                    return delivery
                log.error("mail %s to %s refused for good, not retried: %s", email.kind, email.to, error)
                delivery.refused.append((email, error.reason))
                continue
            delivery.sent.append(email)
        return delivery

    def _record(
        self, conn: Connection, email: Email, position: int, now: datetime, refusal: str | None
    ) -> None:
        row = {
            "message_id": email.message_id,
            "position": position,
            "kind": email.kind,
            "recipient": email.to,
            "subject": _subject_line(email),
            "subject_id": email.subject_id,
        }
        if refusal is None:
            _insert_new(conn, emails_sent, row | {"sent_at": iso(now)})
        else:
            _insert_new(conn, emails_refused, row | {"refused_at": iso(now), "error": refusal})

    # The emails an event owes

    def emails_for(self, event: Any) -> Iterator[Email]:
        kind = BOOKING_EMAILS.get(type(event))
        if kind is not None:
            if isinstance(event, Booking.Booked) and event.waitlist_entry_id is not None:
                return  # a booking claimed from the waitlist gets the waitlist-claimed email
            extra = {"reason": event.reason} if isinstance(event, Booking.AutoCancelled) else {}
            yield self._booking_email(kind, event, self._booking(event), **extra)
            return
        kind = ENTRY_EMAILS.get(type(event))
        if kind is not None:
            slot = self._slot(event)
            entry_ids = event.entry_ids if isinstance(event, WaitlistSlot.Closed) else [event.entry_id]
            for entry_id in entry_ids:
                yield self._entry_email(kind, event, slot, entry_id)

    def _booking(self, event: Any) -> Booking:
        # The booking as it was at this event, so the email says what was true then; a new
        # booking is what its first event says, without reading it back from the store.
        if isinstance(event, Booking.Booked):
            booking: Any = event.mutate(None)
        else:
            booking = self.app.repository.get(event.originator_id, version=event.originator_version)
        assert isinstance(booking, Booking)
        return booking

    def _slot(self, event: Any) -> WaitlistSlot:
        slot: Any = self.app.repository.get(event.originator_id, version=event.originator_version)
        assert isinstance(slot, WaitlistSlot)
        return slot

    def _venue(self, venue_id: str) -> Venue:
        if venue_id not in self._venues:
            venue: Any = self.app.repository.get(Venue.id_for(venue_id))
            assert isinstance(venue, Venue)
            self._venues[venue_id] = venue
        return self._venues[venue_id]

    def _common(self, venue_id: str, date: str, start: str, end: str, user: str) -> dict[str, Any]:
        venue = self._venue(venue_id)
        day = datetime.strptime(date, "%Y-%m-%d")
        return {
            "user": user,
            "venue_name": venue.name,
            "date": f"{day:%A} {day.day} {day:%B %Y}",
            "start": start,
            "end": end,
            "tz": venue.tz,
        }

    def _booking_email(self, kind: str, event: Any, booking: Booking, **extra: Any) -> Email:
        booking_id = str(booking.id)
        context = self._common(booking.venue_id, booking.date, booking.start, booking.end, booking.user)
        context |= {"booking_id": booking_id, "purpose": booking.purpose, "confirmed": booking.confirmed}
        if kind == "booking-confirmed":
            context["reminder_note"] = (
                "No confirmation is needed for this booking."
                if booking.cancel_due is None
                else "We will ask you to confirm it the day before."
            )
        if kind == "reminder":
            expires = booking.starts_at
            context |= {
                "confirm_url": self.links.url(Link("confirm", booking_id, expires)),
                "cancel_url": self.links.url(Link("cancel", booking_id, expires)),
                "confirm_by": self._local(booking.cancel_due, context["tz"]) if booking.cancel_due else "",
            }
        if kind == "auto-cancelled":
            context["book_url"] = f"{self.links.base_url}/venues/{booking.venue_id}"
        context |= extra
        return Email(kind, booking.user, booking_id, context, self._message_id(event, booking_id))

    def _entry_email(self, kind: str, event: Any, slot: WaitlistSlot, entry_id: str) -> Email:
        entry = slot.entry(entry_id)
        context = self._common(slot.venue_id, slot.date, slot.start, slot.end, entry.user)
        context["entry_id"] = entry_id
        deadline = entry.deadline or slot.starts_at
        if kind in ("waitlist-offer", "waitlist-expired"):
            context["deadline"] = self._local(deadline, context["tz"], seconds=True)
        if kind == "waitlist-offer":
            context |= {
                "claim_url": self.links.url(Link("claim", entry_id, deadline)),
                "decline_url": self.links.url(Link("decline", entry_id, deadline)),
                "minutes": max(1, round((deadline - event.timestamp) / timedelta(minutes=1))),
            }
        if kind == "waitlist-claimed":
            context["booking_id"] = event.booking_id
            return Email(kind, entry.user, event.booking_id, context, self._message_id(event, entry_id))
        return Email(kind, entry.user, entry_id, context, self._message_id(event, entry_id))

    @staticmethod
    def _local(instant: datetime, tz: str, seconds: bool = False) -> str:
        from zoneinfo import ZoneInfo

        local = instant.astimezone(ZoneInfo(tz))
        clock = f"{local:%H:%M:%S}" if seconds else f"{local:%H:%M}"
        return f"{local:%A} {local.day} {local:%B %Y} {clock} ({tz})"

    @staticmethod
    def _message_id(event: Any, about: str) -> str:
        source = event_id(event.originator_id, event.originator_version)
        return f"<{derived_id('email', source, about)}@bookit>"


def _reminder_delivered(event: Booking.Reminded, now: datetime) -> c.Command:
    source = event_id(event.originator_id, event.originator_version)
    return c.RecordReminderDelivery(
        command_id=derived_id("reminder-delivered", source),
        actor=SYSTEM,
        booking_id=event.originator_id,
        delivered_at=now,
    )


def _insert_new(conn: Connection, table: Table, row: dict[str, Any]) -> None:
    # Already there when an earlier attempt crashed before moving the position: keep it.
    statement = _KEEP_EXISTING.get((table.name, conn.dialect.name))
    if statement is not None:
        conn.execute(statement, row)
        return
    try:
        with conn.begin_nested():
            conn.execute(insert(table), row)
    except RowExists:
        pass


def _subject_line(email: Email) -> str:
    return f"{email.kind}: {email.context.get('venue_name', '')} {email.context.get('date', '')}".strip()


__all__ = ["Email", "Mailer", "UUID"]
