"""Races on the venue rules (DESIGN rule 13): several OS processes on one SQLite home, released
at once by a barrier (the harness of test_races.py). What the venue-day decides (buffers) and
what the quota counter decides (quotas) holds however the saves interleave: exactly the allowed
number win, every loser is told why, and the invariants hold afterwards."""

from __future__ import annotations

from bookit import commands as c
from bookit.aggregates.base import SYSTEM
from bookit.projections import queries
from faults.test_races import ANN, RACERS, Home, codes, home, slot, winners

__all__ = ["home"]  # the fixture, shared


def rules(home: Home, **fields: object) -> None:
    home.send(c.SetVenueRules(actor=SYSTEM, venue_id="main-hall", **fields))  # type: ignore[arg-type]


def test_rule_13_processes_booking_inside_each_others_buffers_leave_one_booking(home: Home) -> None:
    rules(home, buffer_minutes=60)
    # Six ten-minute slots, none overlapping, each within the hour's buffer of every other.
    starts = ["10:00", "10:12", "10:24", "10:36", "10:48", "11:00"]  # at most 50 minutes apart
    replies = home.race(
        *(
            c.BookVenue(actor=u, **slot(s, f"{s[:3]}{int(s[3:]) + 10}"))
            for u, s in zip(RACERS, starts, strict=True)
        )
    )
    assert winners(replies) == 1
    assert set(codes(replies)) <= {"buffer_conflict", "contention"}
    assert codes(replies)["buffer_conflict"] >= 4
    assert home.problems() == []


def test_rule_13_processes_booking_for_one_user_at_once_stay_within_the_quota(home: Home) -> None:
    rules(home, quota_bookings="2/week")
    # Different days of one ISO week: different venue-days, one quota counter between them.
    days = ["2026-12-07", "2026-12-08", "2026-12-09", "2026-12-10", "2026-12-11", "2026-12-12"]
    replies = home.race(
        *(c.BookVenue(actor=ANN, venue_id="main-hall", date=day, start="18:00", end="19:00") for day in days)
    )
    assert winners(replies) == 2
    assert set(codes(replies)) <= {"quota_exceeded", "contention"}
    assert home.problems() == []
    with home.open() as service:
        live = [r for r in queries.booking_list(service.engine, user=ANN) if r["status"] == "booked"]
    assert len(live) == 2


def test_rule_13_an_hours_quota_holds_against_racing_bookings_of_different_lengths(home: Home) -> None:
    rules(home, quota_hours="3/day")
    lengths = [
        ("08:00", "09:30"),
        ("10:00", "11:00"),
        ("12:00", "14:00"),
        ("15:00", "15:30"),
        ("16:00", "17:00"),
    ]
    replies = home.race(*(c.BookVenue(actor=ANN, **slot(s, e)) for s, e in lengths))
    assert winners(replies) >= 2
    with home.open() as service:
        rows = [r for r in queries.booking_list(service.engine, user=ANN) if r["status"] == "booked"]
    minutes = sum(
        int(r["end"][:2]) * 60 + int(r["end"][3:]) - int(r["start"][:2]) * 60 - int(r["start"][3:])
        for r in rows
    )
    assert len(rows) == winners(replies) and minutes <= 180
    assert set(codes(replies)) <= {"quota_exceeded", "contention"}
    assert home.problems() == []
