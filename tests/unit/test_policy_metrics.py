"""The figures `bookit simulate` reports, on small stories told to the application directly."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bookit import commands as c
from bookit.aggregates.base import SYSTEM
from bookit.aggregates.waitlist import WaitlistSlot
from bookit.application import BookIT
from bookit.config import Rules
from bookit.demo.policy_metrics import PolicyFigures, read_figures
from bookit.demo.policy_sim import NamedPolicy
from bookit.errors import BadInput

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
SLOT = {"venue_id": "hall", "date": "2026-12-05", "start": "10:00", "end": "12:00"}
SLOT_ID = WaitlistSlot.id_for("hall", "2026-12-05", "10:00", "12:00")


def story(mode: str) -> tuple[BookIT, str, list[str]]:
    app = BookIT(env={"PERSISTENCE_MODULE": "eventsourcing.popo"}, rules=Rules(offer_mode=mode))
    send(app, c.RegisterVenue, SYSTEM, name="Hall", tz="Europe/London")
    booking = send(app, c.BookVenue, "owner@example.com", **SLOT)["booking_id"]
    entries = [send(app, c.JoinWaitlist, f"p{n}@example.com", **SLOT)["entry_id"] for n in range(3)]
    return app, booking, entries


def send(app: BookIT, cls: type[c.Command], actor: str, at: datetime = NOW, **fields: Any) -> dict[str, Any]:
    return app.handle(c.build(cls, actor=actor, **fields), at)


def test_a_batch_claim_by_the_second_in_line_counts_as_lost_to_one_behind() -> None:
    app, booking, entries = story("batch:2")
    send(app, c.CancelBooking, "owner@example.com", booking_id=booking)
    send(app, c.ClaimOffer, "p1@example.com", NOW + timedelta(minutes=6), entry_id=entries[1])
    figures = read_figures(app)
    assert (figures.freed_hours, figures.claimed_hours, figures.claims) == (2.0, 2.0, 1)
    assert figures.minutes_to_claim == [6.0]
    assert figures.lost_to_behind == 1
    row = figures.table_row(Counter({"waitlist-offer": 2}))
    assert row["claimed_share"] == 1.0 and row["offers_per_claim"] == 2.0 and row["lost_to_behind"] == 1.0


def test_one_at_a_time_a_declined_offer_is_not_lost_and_an_expired_one_is() -> None:
    app, booking, entries = story("one")
    send(app, c.CancelBooking, "owner@example.com", booking_id=booking)
    send(app, c.DeclineOffer, "p0@example.com", NOW + timedelta(minutes=1), entry_id=entries[0])
    send(app, c.ClaimOffer, "p1@example.com", NOW + timedelta(minutes=2), entry_id=entries[1])
    assert read_figures(app).lost_to_behind == 0  # p0 said no: nobody lost it to p1
    app, booking, entries = story("one")
    send(app, c.CancelBooking, "owner@example.com", booking_id=booking)
    deadline = NOW + timedelta(minutes=15)
    send(app, c.ExpireOffer, SYSTEM, deadline, slot_id=SLOT_ID, entry_id=entries[0])
    send(app, c.ClaimOffer, "p1@example.com", deadline + timedelta(minutes=1), entry_id=entries[1])
    figures = read_figures(app)
    assert figures.lost_to_behind == 1 and figures.minutes_to_claim == [16.0]


def test_a_freeing_nobody_claims_counts_as_freed_not_claimed() -> None:
    app, booking, entries = story("all")
    send(app, c.CancelBooking, "owner@example.com", booking_id=booking)
    deadline = NOW + timedelta(minutes=15)
    for entry in entries:
        send(app, c.ExpireOffer, SYSTEM, deadline, slot_id=SLOT_ID, entry_id=entry)
    figures = read_figures(app)
    assert (figures.freed_hours, figures.claimed_hours, figures.claims) == (2.0, 0.0, 0)
    assert PolicyFigures().table_row(Counter())["claimed_share"] is None


def test_policy_names() -> None:
    assert NamedPolicy.parse("today") == NamedPolicy("today")
    policy = NamedPolicy.parse("auto+batch:3+quiet")
    assert (policy.window, policy.mode, policy.quiet) == ("auto", "batch:3", "22:00-08:00")
    rules = NamedPolicy.parse("fixed:30+all+quiet:23:00-06:30").rules(Rules())
    assert (rules.offer_window, rules.offer_mode, rules.quiet_hours) == (
        timedelta(minutes=30),
        "all",
        "23:00-06:30",
    )
    for bad in ("auto+sometimes", "fixed:0", "batch:0", "quiet:25:00-01:00"):
        with pytest.raises(BadInput):
            NamedPolicy.parse(bad)
