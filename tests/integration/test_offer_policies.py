"""Offer policies through the whole chain (DESIGN rules 12, 15, 16): venue rules set by the
bus, the SQLite store, the due-timers projection, the tick, the mailer and the Maildir outbox."""

from __future__ import annotations

import mailbox
from datetime import UTC, datetime
from email.message import EmailMessage
from email.parser import BytesParser
from email.policy import default as default_policy
from typing import Any

from bookit import commands as c
from bookit.aggregates.base import SYSTEM
from bookit.bootstrap import Service
from bookit.projections import queries

A, B, C, D = (f"{n}@example.com" for n in "abcd")
SLOT = {"date": "2026-12-05", "start": "10:00", "end": "12:00"}


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def _parse(file: Any) -> EmailMessage:
    message = BytesParser(EmailMessage, policy=default_policy).parse(file)
    assert isinstance(message, EmailMessage)
    return message


def mails(service: Service, kind: str) -> list[EmailMessage]:
    box = mailbox.Maildir(service.home / "outbox", factory=_parse, create=False)
    return sorted((m for m in box if m["X-BookIT-Kind"] == kind), key=lambda m: str(m["To"]))


def queued_world(driver: Any, **rules: Any) -> tuple[str, str, list[str]]:
    venue = driver.venue(tz="Europe/London")
    driver.send(c.SetVenueRules, actor=SYSTEM, venue_id=venue, **rules)
    booking = driver.book("owner@example.com", venue, **SLOT)
    entries = [driver.join(user, venue, **SLOT) for user in (A, B, C, D)]
    return venue, booking, entries


def test_rule_16_an_offer_made_at_night_is_mailed_when_quiet_hours_end(driver: Any) -> None:
    service = driver.service
    venue, booking, entries = queued_world(driver, quiet_hours="22:00-08:00", offer_window="auto")
    driver.clock.set(at("2026-12-01T23:10:00"))  # London is on UTC in December
    driver.send(c.CancelBooking, actor="owner@example.com", booking_id=booking)
    driver.tick(minutes=1)
    assert mails(service, "waitlist-offer") == []
    # Held for A all night: nobody books it around the queue.
    [row] = queries.my_waitlist(service.engine, A, driver.clock.now)
    assert row["status"] == "offered"
    driver.clock.set(at("2026-12-02T07:59:59"))
    driver.tick()
    assert mails(service, "waitlist-offer") == []
    driver.clock.set(at("2026-12-02T08:00:00"))
    driver.tick()
    [offer] = mails(service, "waitlist-offer")
    assert offer["To"] == A
    text = str(offer.get_body(("plain",)).get_content())  # type: ignore[union-attr]
    # Three days and two hours ahead when the window opens: auto gives 8 hours, from 08:00.
    assert text.splitlines()[1].startswith("Claim it by 16:00 on Wednesday 2 December (8 hours left)")
    driver.send(c.ClaimOffer, actor=A, entry_id=entries[0])
    assert [m["To"] for m in mails(service, "waitlist-claimed")] == [A]


def test_rule_15_batch_offers_mail_the_first_n_and_tell_the_losers(driver: Any) -> None:
    service = driver.service
    venue, booking, entries = queued_world(driver, offer_mode="batch:3")
    driver.send(c.CancelBooking, actor="owner@example.com", booking_id=booking)
    driver.tick()
    assert [m["To"] for m in mails(service, "waitlist-offer")] == [A, B, C]
    for message in mails(service, "waitlist-offer"):
        text = " ".join(str(message.get_body(("plain",)).get_content()).split())  # type: ignore[union-attr]
        assert "We offered it to 2 others in line at the same time" in text
    driver.clock.advance(minutes=2)
    driver.send(c.ClaimOffer, actor=C, entry_id=entries[2])
    driver.tick()
    assert [m["To"] for m in mails(service, "waitlist-taken")] == [A, B]
    now = driver.clock.now
    positions = {
        r["entry_id"]: r["position"] for u in (A, B, D) for r in queries.my_waitlist(service.engine, u, now)
    }
    assert [positions[e] for e in (entries[0], entries[1], entries[3])] == [1, 2, 3]
    # Their timers went with their offers: a tick at the old deadline expires nothing.
    driver.tick(minutes=20)
    assert mails(service, "waitlist-expired") == []
