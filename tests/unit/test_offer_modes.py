"""Offer modes and quiet hours through the application service (DESIGN rules 15 and 16), on the
in-memory store: who is offered a freeing, who wins, what happens to the others, and when a
window made in quiet hours opens."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bookit import commands as c
from bookit.aggregates.base import SYSTEM
from bookit.aggregates.venue_day import VenueDay
from bookit.aggregates.waitlist import OFFERED, WAITING, WaitlistSlot
from bookit.application import BookIT
from bookit.config import Rules
from bookit.errors import Refused

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)  # London is on UTC in December
SLOT = {"venue_id": "hall", "date": "2026-12-05", "start": "10:00", "end": "12:00"}
SLOT_ID = WaitlistSlot.id_for("hall", "2026-12-05", "10:00", "12:00")
OWNER = "owner@example.com"
PEOPLE = [f"p{n}@example.com" for n in range(5)]


def world(**rules: Any) -> tuple[BookIT, str, list[str]]:
    """A booked slot with five people queued for it, in order p0..p4."""
    app = BookIT(env={"PERSISTENCE_MODULE": "eventsourcing.popo"}, rules=Rules(**rules))
    app.handle(c.build(c.RegisterVenue, actor=SYSTEM, name="Hall", tz="Europe/London"), NOW)
    booking = send(app, c.BookVenue, OWNER, **SLOT)["booking_id"]
    entries = [send(app, c.JoinWaitlist, p, **SLOT)["entry_id"] for p in PEOPLE]
    return app, booking, entries


def send(app: BookIT, cls: type[c.Command], actor: str, at: datetime = NOW, **fields: Any) -> dict[str, Any]:
    return app.handle(c.build(cls, actor=actor, **fields), at)


def refusal(app: BookIT, cls: type[c.Command], actor: str, at: datetime = NOW, **fields: Any) -> str:
    with pytest.raises(Refused) as info:
        send(app, cls, actor, at, **fields)
    return info.value.code


def statuses(app: BookIT, entries: list[str]) -> list[str]:
    slot = app.waitlist_slot(SLOT_ID)
    # Out of the queue (claimed, declined, expired) is "out", whether or not it is forgotten yet.
    return [slot.entries[e].status if slot.is_active(e) else "out" for e in entries]


def notified(app: BookIT) -> list[Any]:
    return [
        e
        for e in (
            app.mapper.to_domain_event(n) for n in app.recorder.select_notifications(start=1, limit=10_000)
        )
        if isinstance(e, WaitlistSlot.Notified)
    ]


def test_rule_15_one_mode_offers_the_first_in_line_only() -> None:
    app, booking, entries = world()
    send(app, c.CancelBooking, OWNER, booking_id=booking)
    assert statuses(app, entries) == [OFFERED, WAITING, WAITING, WAITING, WAITING]
    (offer,) = notified(app)
    assert offer.deadline == NOW + timedelta(minutes=15) and offer.together == 1 and offer.opens_at is None


def test_rule_15_batch_offers_the_next_n_together_and_the_first_claim_wins() -> None:
    app, booking, entries = world(offer_mode="batch:3")
    send(app, c.CancelBooking, OWNER, booking_id=booking)
    assert statuses(app, entries) == [OFFERED, OFFERED, OFFERED, WAITING, WAITING]
    offers = notified(app)
    assert [o.entry_id for o in offers] == entries[:3]
    assert {o.deadline for o in offers} == {NOW + timedelta(minutes=15)} and {o.together for o in offers} == {
        3
    }
    # Held for the three of them: nobody books it around the queue.
    assert refusal(app, c.BookVenue, "outsider@example.com", **SLOT) == "slot_held"

    later = NOW + timedelta(minutes=3)
    won = send(app, c.ClaimOffer, PEOPLE[2], later, entry_id=entries[2])
    assert won["status"] == "confirmed"
    # The two others go back to their own places, ahead of p3 and p4, and are told.
    slot = app.waitlist_slot(SLOT_ID)
    assert statuses(app, entries) == [WAITING, WAITING, "out", WAITING, WAITING]
    assert [slot.position(e) for e in (entries[0], entries[1], entries[3])] == [1, 2, 3]
    assert refusal(app, c.ClaimOffer, PEOPLE[0], later, entry_id=entries[0]) == "no_offer"
    day = app.repository.get(VenueDay.id_for("hall", "2026-12-05"))
    assert not day.holds and len(day.taken) == 1


def test_rule_15_batch_keeps_the_slot_held_until_the_last_of_the_batch_is_out() -> None:
    app, booking, entries = world(offer_mode="batch:2")
    send(app, c.CancelBooking, OWNER, booking_id=booking)
    send(app, c.DeclineOffer, PEOPLE[0], NOW + timedelta(minutes=1), entry_id=entries[0])
    # p1 still holds it: nobody behind is offered yet, and p1 can still claim.
    assert statuses(app, entries) == ["out", OFFERED, WAITING, WAITING, WAITING]
    deadline = NOW + timedelta(minutes=15)
    send(app, c.ExpireOffer, SYSTEM, deadline, slot_id=SLOT_ID, entry_id=entries[1])
    # The batch is done: the next two in line are offered the same freed time.
    assert statuses(app, entries) == ["out", "out", OFFERED, OFFERED, WAITING]
    assert [o.entry_id for o in notified(app)] == entries[:4]


def test_rule_15_all_mode_offers_everyone_in_line() -> None:
    app, booking, entries = world(offer_mode="all")
    send(app, c.CancelBooking, OWNER, booking_id=booking)
    assert statuses(app, entries) == [OFFERED] * 5
    send(app, c.ClaimOffer, PEOPLE[4], NOW + timedelta(minutes=14, seconds=59), entry_id=entries[4])
    assert statuses(app, entries) == [WAITING] * 4 + ["out"]


def test_rule_15_a_claim_after_the_shared_deadline_fails_in_every_mode() -> None:
    for mode in ("one", "batch:2", "all"):
        app, booking, entries = world(offer_mode=mode)
        send(app, c.CancelBooking, OWNER, booking_id=booking)
        late = NOW + timedelta(minutes=15)
        assert refusal(app, c.ClaimOffer, PEOPLE[0], late, entry_id=entries[0]) == "offer_expired"


def test_rule_16_an_offer_made_in_quiet_hours_opens_when_they_end() -> None:
    app, booking, entries = world(quiet_hours="22:00-08:00", offer_mode="batch:2")
    night = datetime(2026, 12, 1, 23, 30, tzinfo=UTC)
    send(app, c.CancelBooking, OWNER, night, booking_id=booking)
    morning = datetime(2026, 12, 2, 8, 0, tzinfo=UTC)
    offers = notified(app)
    # Its place in line is kept (p0 and p1, held at once) but the window starts at 08:00.
    assert [o.entry_id for o in offers] == entries[:2]
    assert {(o.opens_at, o.deadline) for o in offers} == {(morning, morning + timedelta(minutes=15))}
    assert refusal(app, c.BookVenue, "outsider@example.com", night, **SLOT) == "slot_held"
    assert refusal(app, c.ClaimOffer, PEOPLE[0], morning - timedelta(seconds=1), entry_id=entries[0]) == (
        "offer_not_open"
    )
    # At 08:00 the clock opens each window (the email hangs on that event) ...
    opened = send(app, c.OpenOfferWindow, SYSTEM, morning, slot_id=SLOT_ID, entry_id=entries[0])
    assert opened["opened"] is True
    # ... and from then on the offer can be claimed.
    assert send(app, c.ClaimOffer, PEOPLE[1], morning + timedelta(minutes=1), entry_id=entries[1])[
        "booking_id"
    ]


def test_rule_16_an_offer_too_close_to_the_start_goes_out_at_once() -> None:
    app, booking, entries = world(quiet_hours="22:00-10:00")
    # 09:50 on the day: waiting until 10:00 would leave no time before the 10:00 start.
    near = datetime(2026, 12, 5, 9, 50, tzinfo=UTC)
    send(app, c.CancelBooking, OWNER, near, booking_id=booking)
    (offer,) = notified(app)
    assert offer.opens_at is None and offer.deadline == datetime(2026, 12, 5, 10, 0, tzinfo=UTC)


def test_rule_12_an_offer_is_judged_by_the_venue_rules_in_force_when_it_is_made() -> None:
    app, booking, entries = world()
    send(app, c.SetVenueRules, SYSTEM, venue_id="hall", offer_mode="batch:2", offer_window="auto")
    send(app, c.CancelBooking, OWNER, booking_id=booking)
    # Four days ahead, auto gives 8 hours; batch:2 offers p0 and p1.
    assert statuses(app, entries) == [OFFERED, OFFERED, WAITING, WAITING, WAITING]
    assert {o.deadline for o in notified(app)} == {NOW + timedelta(hours=8)}
    # The venue goes back to one-at-a-time: the open offers keep what they were given.
    send(app, c.SetVenueRules, SYSTEM, venue_id="hall", offer_mode="one", offer_window=15)
    assert {o.deadline for o in notified(app)} == {NOW + timedelta(hours=8)}
    later = NOW + timedelta(hours=8)
    for entry in entries[:2]:
        send(app, c.ExpireOffer, SYSTEM, later, slot_id=SLOT_ID, entry_id=entry)
    # The next freeing is judged by the rules now in force: p2 alone, for 15 minutes.
    assert statuses(app, entries) == ["out", "out", OFFERED, WAITING, WAITING]
    assert notified(app)[-1].deadline == later + timedelta(minutes=15)
