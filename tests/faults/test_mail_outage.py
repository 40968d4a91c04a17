"""Mail outage: the SMTP server (aiosmtpd on a free port, BOOKIT_SMTP=smtp://127.0.0.1:PORT) is
down, or up and refusing (451 "try later", 554 "no"), while reminders fall due.

DESIGN rule 5: a booking whose reminder never reached its owner, or reached them less than the
grace period (1 h) before the confirmation deadline, is NOT auto-cancelled; the booking records
why (`booking.auto_cancel_skipped`). When the server is back, the owed emails go out, each once.
Meanwhile commands go on working: a mail outage never blocks a booking.

The mailer retries a failed email with back-off (30 s doubling to 15 min; the ticks here are
hours apart, so every tick may retry). A 554 is a refusal for good: that email is recorded as
refused and never retried (`test_mail_backoff.py`), so the late delivery below uses a 451.
"""

from __future__ import annotations

import socket
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from email import message_from_bytes
from email.message import Message
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from bookit import commands as c
from bookit.aggregates.base import SYSTEM
from bookit.bootstrap import Service, bootstrap
from bookit.projections import queries

ANN, BOB = "ann@example.com", "bob@example.com"
DAY = "2026-12-03"  # 10:00-11:00 London (= UTC in December): reminder due 12-02 10:00, cancel 12-03 08:00


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


class Mailhost:
    """An SMTP server that can be down, refuse with a given reply, or accept and keep messages."""

    def __init__(self) -> None:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port: int = sock.getsockname()[1]
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port)
        self.received: list[Message] = []
        self.refusal: str | None = None
        self.attempts = 0
        self.up = False

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        self.attempts += 1
        if self.refusal:
            return self.refusal
        self.received.append(message_from_bytes(envelope.content))
        return "250 OK"

    def start(self) -> None:
        if not self.up:
            self.controller.start()
            self.up = True

    def stop(self) -> None:
        if self.up:
            self.controller.stop()
            self.up = False

    def kinds(self) -> list[str]:
        return [str(m["X-BookIT-Kind"]) for m in self.received]

    def message_ids(self) -> Counter[str]:
        return Counter(str(m["Message-ID"]) for m in self.received)


@pytest.fixture
def mailhost() -> Iterator[Mailhost]:
    host = Mailhost()
    yield host
    host.stop()


@pytest.fixture
def world(tmp_path: Path, mailhost: Mailhost, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    monkeypatch.setenv("BOOKIT_SMTP", f"smtp://127.0.0.1:{mailhost.port}")
    clock = [at("2026-12-01T09:00:00")]
    service = bootstrap(tmp_path / "home", clock=lambda: clock[0])
    service.bus.handle(c.RegisterVenue(actor=SYSTEM, name="Main Hall", tz="Europe/London"))
    yield service, clock
    service.close()


def tick(service: Service, clock: list[datetime], when: str) -> None:
    clock[0] = at(when)
    service.bus.handle(c.Tick(now=clock[0]))


def book(service: Service, user: str, start: str = "10:00", end: str = "11:00") -> str:
    result = service.bus.handle(c.BookVenue(actor=user, venue_id="main-hall", date=DAY, start=start, end=end))
    return str(result["booking_id"])


def fate(service: Service, booking_id: str) -> list[tuple[str, Any]]:
    app = service.app
    events = [app.mapper.to_domain_event(n) for n in app.recorder.select_notifications(1, 10**6)]
    return [
        (e.TOPIC, getattr(e, "reason", None))
        for e in events
        if e.TOPIC.startswith("booking.") and str(e.originator_id) == booking_id
    ]


def status(service: Service, booking_id: str) -> str:
    row = queries.booking(service.engine, booking_id)
    assert row is not None
    return str(row["status"])


def test_a_reminder_that_could_not_be_sent_spares_the_booking_and_goes_out_once_when_smtp_is_back(
    world: Any, mailhost: Mailhost
) -> None:
    service, clock = world
    booking = book(service, ANN)  # the server is down from the start
    tick(service, clock, "2026-12-02T10:00:00")  # reminder due
    for hour in range(11, 24, 3):
        tick(service, clock, f"2026-12-02T{hour}:00:00")  # retried on every tick, still down
    assert book(service, BOB, "12:00", "13:00"), "a mail outage never blocks a booking"

    tick(service, clock, "2026-12-03T08:00:00")  # the confirmation deadline
    assert fate(service, booking)[-1] == ("booking.auto_cancel_skipped", "reminder was never delivered")
    assert status(service, booking) == "booked"
    assert mailhost.received == []

    mailhost.start()
    tick(service, clock, "2026-12-03T08:30:00")
    tick(service, clock, "2026-12-03T09:00:00")
    mine = [m for m in mailhost.received if m["To"] == ANN]
    assert [str(m["X-BookIT-Kind"]) for m in mine] == ["booking-confirmed", "reminder"]
    assert set(mailhost.message_ids().values()) == {1}, "each email once"
    assert status(service, booking) == "booked", "delivered after the deadline: still not cancelled"
    assert "booking.auto_cancelled" not in [topic for topic, _ in fate(service, booking)]


def test_a_server_refusing_with_451_then_accepting_in_time_lets_the_deadline_work_normally(
    world: Any, mailhost: Mailhost
) -> None:
    service, clock = world
    mailhost.refusal = "451 4.3.0 try again later"
    mailhost.start()
    booking = book(service, ANN)
    for when in ("2026-12-02T10:00:00", "2026-12-02T14:00:00", "2026-12-02T18:00:00"):
        tick(service, clock, when)
    refused_attempts = mailhost.attempts
    assert mailhost.received == [] and refused_attempts >= 4

    mailhost.refusal = None
    tick(service, clock, "2026-12-02T20:00:00")  # 12 h before the deadline: a fair chance
    tick(service, clock, "2026-12-03T08:00:00")
    assert [topic for topic, _ in fate(service, booking)][-2:] == [
        "booking.reminder_delivered",
        "booking.auto_cancelled",
    ]
    assert mailhost.kinds() == ["booking-confirmed", "reminder", "auto-cancelled"]
    assert set(mailhost.message_ids().values()) == {1}
    print(f"\n451 outage: {refused_attempts} refused delivery attempts over 3 ticks and 1 booking")


def test_a_reminder_delivered_inside_the_grace_period_does_not_cancel_and_says_why(
    world: Any, mailhost: Mailhost
) -> None:
    service, clock = world
    mailhost.refusal = "451 4.3.0 try again later"  # a 554 would be refused for good, never sent
    mailhost.start()
    booking = book(service, ANN)
    tick(service, clock, "2026-12-02T10:00:00")
    mailhost.refusal = None
    tick(service, clock, "2026-12-03T07:30:00")  # 30 min later than the last fair instant, 07:00
    tick(service, clock, "2026-12-03T08:00:00")
    topic, reason = fate(service, booking)[-1]
    assert topic == "booking.auto_cancel_skipped"
    assert "reminder delivered at 2026-12-03 07:30 UTC" in reason and "grace" in reason
    assert status(service, booking) == "booked"
    assert mailhost.kinds() == ["booking-confirmed", "reminder"]


def test_emails_sent_during_an_outage_are_recorded_only_once_they_really_went_out(
    world: Any, mailhost: Mailhost
) -> None:
    service, clock = world
    book(service, ANN)
    tick(service, clock, "2026-12-02T10:00:00")
    assert queries.outbox(service.engine) == [], "nothing is recorded as sent while the server is down"
    mailhost.start()
    tick(service, clock, "2026-12-02T10:05:00")
    recorded = [row["kind"] for row in queries.outbox(service.engine)]
    assert recorded == ["booking-confirmed", "reminder"] == mailhost.kinds()
    mailhost.stop()
    tick(service, clock, "2026-12-02T11:00:00")  # nothing owed: an outage now costs nothing
    assert [row["kind"] for row in queries.outbox(service.engine)] == recorded
