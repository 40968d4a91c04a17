"""The mailer: follows the event store and delivers, then records, the emails events owe.

Which emails an event owes is `owed.py`'s business; this follower loads what those functions are
given (the aggregate as it was at the event, its venue), hands the composed messages to the
outbox, and records what went out with its tracked position in one transaction. A crash after
delivery and before the record re-delivers the same Message-ID, which the Maildir outbox
recognises and skips.

A delivered reminder is reported back as a command, because the booking must know when its
owner was really told (rule 5: no auto-cancellation without a fair chance to confirm). The
command runs after the email is recorded, so a crash in between would lose it: every pass
therefore first reissues the command for each recorded reminder that has no receipt yet, from
a watermark of reminders known to be reported, so it looks only at the newest few.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime, timedelta
from email.message import EmailMessage
from typing import Any
from uuid import UUID

from eventsourcing.application import Application
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import Notification
from sqlalchemy import Connection, Engine

from bookit import commands as c
from bookit.adapters.mail import Delivered, MailDeliveryError, Outbox, compose_email
from bookit.aggregates.base import SYSTEM, derived_id, event_id, project
from bookit.aggregates.booking import Booking
from bookit.aggregates.receipt import CommandReceipt
from bookit.aggregates.venue import Venue
from bookit.links import LinkSigner
from bookit.localtime import from_iso, iso
from bookit.observability import observe
from bookit.policies import backoff
from bookit.policies.backoff import Backoff
from bookit.policies.mail import records
from bookit.policies.mail.owed import MAILED_TOPICS, OWED, Email, Facts, emails_owed
from bookit.policies.mail.records import REMINDERS_REPORTED, Record
from bookit.projections import queries
from bookit.projections.database import advance, position_of
from bookit.projections.following import Applied, TrackedFollower
from bookit.store_reads import states_at, stored_among

log = logging.getLogger(__name__)

# The reminder-delivered commands owed so far, with the position of the reminder each is about.
Reported = list[tuple[int, c.Command]]


class Mailer(TrackedFollower):
    name = "mail"

    def __init__(
        self,
        app: Application[Any],
        engine: Engine,
        outbox: Outbox,
        links: LinkSigner,
        batch_size: int = 200,
        retry_first: timedelta = timedelta(seconds=30),
        retry_cap: timedelta = timedelta(minutes=15),
    ) -> None:
        super().__init__(app, engine, batch_size)
        self.outbox = outbox
        self.links = links
        self.retry_first = retry_first
        self.retry_cap = max(retry_cap, retry_first)
        self._venues: dict[str, Venue] = {}
        self.backoff = Backoff()  # as the last pass read or left it

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
            reminders = records.reminders_after(conn, watermark)
            self.backoff = backoff.load(conn, self.name)
            conn.commit()
        follow_ups = self._unreported_reminders(watermark, reminders) if reminders else []
        if self.backoff.holds(now):
            return 0, follow_ups
        reported: Reported = []
        # An outbox that delivers each Message-ID once however often it is asked (the Maildir)
        # takes a whole page's emails at once: a crash re-delivers them, which changes nothing.
        step = self._page_step if getattr(self.outbox, "redelivery_is_harmless", False) else self._step
        passed = self.follow(lambda conn, page: step(conn, page, now, reported))
        # A reminder counts as delivered once its record is committed (the position moved past it).
        return passed, follow_ups + [command for at, command in reported if at <= self.position]

    def _step(
        self,
        conn: Connection,
        page: Sequence[Notification],
        now: datetime,
        reported: list[tuple[int, c.Command]],
    ) -> Applied:
        """Pass the events that owe nobody an email (most of them) undecoded, up to and including
        the next one whose emails went out: those are recorded before the next event's are sent,
        so a crash re-delivers at most one event's emails."""
        for index, notification in enumerate(page):
            if notification.topic not in MAILED_TOPICS:
                continue
            event = self.app.mapper.to_domain_event(notification)
            emails = records.still_owed(conn, self.emails_for(event))
            with observe.owed_by(event):  # its emails' span joins the trace that stored it
                done, delivered = self._deliver(emails, notification.id, now)
            if delivered.error is not None:
                # The position stays before this event: the next allowed pass retries from it.
                self._back_off(conn, delivered.error, done, now)
                return Applied(index, stop=True)
            if self.backoff.failures:
                self._end_back_off(conn)
            if done:
                records.record(conn, done, now)
                if delivered.sent and isinstance(event, Booking.Reminded):
                    reported.append((notification.id, _reminder_delivered(event, now)))
                return Applied(index + 1)
        return Applied(len(page))

    def _page_step(
        self,
        conn: Connection,
        page: Sequence[Notification],
        now: datetime,
        reported: list[tuple[int, c.Command]],
    ) -> Applied:
        """The whole page in one step: every email it owes in one delivery (one Maildir sync for
        all of them), recorded in the step's one transaction."""
        mailed = [n for n in page if n.topic in MAILED_TOPICS]
        events: dict[int, Any] = {n.id: self.app.mapper.to_domain_event(n) for n in mailed}
        # The bookings as they were at their events, in one query (waitlist slots have snapshots).
        of_bookings = [events[n.id] for n in mailed if n.topic.startswith("booking.")]
        states = states_at(
            self.app, [e for e in of_bookings if type(e) in OWED and not isinstance(e, Aggregate.Created)]
        )
        owed: list[tuple[int, Any, list[Email]]] = []
        for position, event in events.items():
            state = states.get((event.originator_id, event.originator_version))
            owed.append((position, event, records.still_owed(conn, self.emails_for(event, state))))
        emails = [email for _, _, of_event in owed for email in of_event]
        position_of_email = {id(email): position for position, _, of_event in owed for email in of_event}
        done, delivered = self._deliver(emails, 0, now)
        if delivered.error is not None:
            # All or none: nothing of this page went out; the next allowed pass retries it.
            self._back_off(conn, delivered.error, [], now)
            return Applied(0, stop=True)
        if self.backoff.failures:
            self._end_back_off(conn)
        records.record(conn, [(email, position_of_email[id(email)], why) for email, _, why in done], now)
        for position, event, of_event in owed:
            if of_event and isinstance(event, Booking.Reminded):
                reported.append((position, _reminder_delivered(event, now)))
        return Applied(len(page))

    def emails_for(self, event: Any, state: Any = None) -> list[Email]:
        """The emails `event` owes, judged by the aggregate as it was then (`state`, when the
        caller has read it) and its venue."""
        if type(event) not in OWED:
            return []
        state = state if state is not None else self._state_at(event)
        return emails_owed(Facts(event, state, self._venue(state.venue_id), self.links))

    def refused(self) -> list[dict[str, Any]]:
        """The emails a server refused for good, oldest first: never sent, never retried."""
        return queries.outbox(self.engine, refused=True)

    def _state_at(self, event: Any) -> Any:
        # The aggregate as it was at this event, so the email says what was true then; a new
        # aggregate is what its first event says, without reading it back from the store.
        if isinstance(event, Aggregate.Created):
            return event.mutate(None)
        return self.app.repository.get(
            event.originator_id, version=event.originator_version, projector_func=project
        )

    def _venue(self, venue_id: str) -> Venue:
        if venue_id not in self._venues:
            venue: Any = self.app.repository.get(Venue.id_for(venue_id), projector_func=project)
            assert isinstance(venue, Venue)
            self._venues[venue_id] = venue
        return self._venues[venue_id]

    def _deliver(self, emails: list[Email], position: int, now: datetime) -> tuple[list[Record], Delivered]:
        """Hand the emails to the outbox; what to record of them at `position`, and what became
        of them."""
        if not emails:
            return [], Delivered()
        messages = [compose(email, now) for email in emails]
        with observe.sending(len(messages)):
            delivered = self.outbox.deliver_all(messages)
        email_of = {id(message): email for message, email in zip(messages, emails, strict=True)}
        done: list[Record] = [(email_of[id(message)], position, None) for message in delivered.sent]
        for message, reason in delivered.refused:
            email = email_of[id(message)]
            log.error(
                "mail %s about %s refused for good, not retried: %s", email.kind, email.subject_id, reason
            )
            done.append((email, position, reason))
        answered = {id(m) for m in delivered.sent} | {id(m) for m, _ in delivered.refused}
        observe.emails_done(
            [email_of[id(m)].kind for m in delivered.sent],
            [email_of[id(m)].kind for m, _ in delivered.refused],
            [email_of[id(m)].kind for m in messages if id(m) not in answered] if delivered.error else [],
        )
        return done, delivered

    def _unreported_reminders(self, watermark: int, reminders: list[tuple[int, str]]) -> list[c.Command]:
        """`RecordReminderDelivery` again for each reminder recorded after the watermark whose
        command never ran (a crash between the record and the command); the watermark moves
        past the ones that did."""
        unreported: list[c.Command] = []
        reported = watermark
        stored = self._reminders_at(reminders)
        receipt_of = {at: CommandReceipt.id_for(_delivery_id(n)) for at, n in stored.items()}
        receipts = stored_among(self.app, receipt_of.values())
        for position, sent_at in reminders:
            if position not in stored or receipt_of[position] in receipts:
                if not unreported:
                    reported = position  # only a run with no gap, so none is skipped for ever
                continue
            unreported.append(_reminder_delivered(stored[position], from_iso(sent_at)))
        if reported != watermark:
            with self.engine.begin() as conn:
                advance(conn, REMINDERS_REPORTED, watermark, reported)  # lost race: the other moved it
        if unreported:
            log.warning("reissuing %d reminder deliveries that were never recorded", len(unreported))
        return unreported

    def _reminders_at(self, reminders: list[tuple[int, str]]) -> dict[int, Notification]:
        """The stored reminder event at each recorded (position, sent_at), where there is one
        (one query for them all)."""
        positions = {position for position, _ in reminders}
        first, last = min(positions), max(positions)
        stored = self.app.recorder.select_notifications(
            start=first, limit=last - first + 1, stop=last, topics=[Booking.Reminded.TOPIC]
        )
        return {n.id: n for n in stored if n.id in positions}

    def _back_off(
        self, conn: Connection, error: MailDeliveryError, done: list[Record], now: datetime
    ) -> None:
        self.backoff = self.backoff.after_failure(error.reason, now, self.retry_first, self.retry_cap)
        backoff.save(conn, self.name, self.backoff)
        # What did go out of this event is recorded now, so the retry does not send it twice.
        records.record(conn, done, now)
        log.warning(
            "mail delivery failed (%d in a row), next attempt not before %s: %s",
            self.backoff.failures,
            iso(self.backoff.retry_at),
            error.reason,
        )

    def _end_back_off(self, conn: Connection) -> None:
        # The server answered: the next failure waits the first delay again.
        log.info("mail delivery resumed after %d failed attempts", self.backoff.failures)
        self.backoff = Backoff()
        backoff.save(conn, self.name, self.backoff)


def compose(email: Email, sent_at: datetime) -> EmailMessage:
    """The message for an owed email, as sent at `sent_at`."""
    return compose_email(
        email.kind,
        to=email.to,
        message_id=email.message_id,
        sent_at=sent_at,
        subject_id=email.subject_id,
        context=email.context,
        to_name=email.to_name,
        calendar=email.calendar,
    )


def _reminder_delivered(reminded: Booking.Reminded | Notification, now: datetime) -> c.Command:
    """The command that tells a booking its reminder (the event, or its notification) went out."""
    return c.RecordReminderDelivery(
        command_id=_delivery_id(reminded),
        actor=SYSTEM,
        booking_id=UUID(str(reminded.originator_id)),
        delivered_at=now,
    )


def _delivery_id(reminded: Booking.Reminded | Notification) -> UUID:
    """The id of that command, derived from the reminder event (the same however often asked)."""
    return derived_id(
        "reminder-delivered", event_id(UUID(str(reminded.originator_id)), reminded.originator_version)
    )
