"""`bookit check` through the real executable: it passes on an honest store, and on a copy of
that store with an overlapping booking written around the aggregates it exits 1 and names the
events that prove it, leaving both stores as they were (issue 11)."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path
from uuid import UUID

from bookit.aggregates.base import Cause, derived_id, event_id
from bookit.aggregates.booking import Booking
from bookit.aggregates.venue_day import VenueDay
from bookit.bootstrap import bootstrap

from .test_audit_history import seed_test3


def forge_overlapping_booking(home: Path, store: str = "sqlite") -> tuple[str, str]:
    """Save a Booking and the VenueDay's IntervalTaken for it directly, skipping the schedule's
    conflict check: what a buggy use case would leave behind. Returns the two events' ids."""
    service = bootstrap(home, store)
    app = service.app
    day: VenueDay = app.repository.get(VenueDay.id_for("main-hall", "2026-12-05"))
    starts_at = datetime(2026, 12, 5, 11, 0, tzinfo=UTC)
    ends_at = datetime(2026, 12, 5, 13, 0, tzinfo=UTC)
    cause = Cause("mallory@example.com", "forged-command", datetime(2026, 12, 5, 8, 30, tzinfo=UTC))
    forged_id = derived_id("forged", "booking")
    booking = Booking.book(
        forged_id,
        venue_id="main-hall",
        user="mallory@example.com",
        date="2026-12-05",
        start="11:00",
        end="13:00",
        starts_at=starts_at,
        ends_at=ends_at,
        purpose="",
        rules=app.rules,
        cause=cause,
    )
    day._record(
        VenueDay.IntervalTaken,
        cause,
        booking_id=str(forged_id),
        user="mallory@example.com",
        starts_at=starts_at,
        ends_at=ends_at,
    )
    app.save(booking, day)
    taken = str(event_id(day.id, day.version))
    service.close()
    return str(event_id(forged_id, 1)), taken


def test_check_passes_on_an_honest_store_and_names_the_events_of_a_forged_overlap(tmp_path: Path) -> None:
    story, ids = seed_test3(tmp_path / "honest", record=False)
    honest = story.cli
    ok = honest.ok("check")
    assert ok.one == {"ok": True, "events": honest.stored_events()}

    corrupt_home = tmp_path / "corrupt"
    shutil.copytree(honest.home, corrupt_home)
    booked, taken = forge_overlapping_booking(corrupt_home)
    corrupt = type(honest)(corrupt_home, now=honest.now)
    before = corrupt.stored_events()

    run = corrupt("check")
    assert run.code == 1, run.err
    found = run.objects
    overlap = [v for v in found if "overlaps live booking" in v["violation"]]
    assert overlap and booked in overlap[0]["event_ids"]
    assert str(event_id(UUID(ids["claimed"]), 1)) in overlap[0]["event_ids"]  # Carol's, overlapped
    schedule = [v for v in found if "took time already taken" in v["violation"]]
    assert schedule and taken in schedule[0]["event_ids"]
    human = corrupt("check", as_json=False)
    assert human.code == 1 and booked in human.out and taken in human.out
    assert "violation(s)" in human.err

    assert corrupt.stored_events() == before  # read-only
    assert honest.ok("check").one["ok"] is True  # the original is untouched
