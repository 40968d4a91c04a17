"""The store of kept copies itself (`bookit.kept_copies`): what it keeps and for how long."""

from __future__ import annotations

from datetime import UTC, datetime

from bookit.aggregates.base import Cause
from bookit.aggregates.venue_day import VenueDay
from bookit.kept_copies import KeptCopies

CAUSE = Cause(actor="system", command_id="c", at=datetime(2026, 12, 1, tzinfo=UTC))


def day(n: int) -> VenueDay:
    opened = VenueDay.open("hall", f"2026-12-{n:02d}", CAUSE)
    opened.collect_events()  # as after its save
    return opened


def test_a_copy_is_lent_once_and_is_gone_until_given_back() -> None:
    kept = KeptCopies()
    first = day(1)
    kept.give_back([first])
    assert kept.lend(first.id) is first
    assert kept.lend(first.id) is None


def test_a_copy_with_events_not_stored_is_not_kept() -> None:
    kept = KeptCopies()
    changed = VenueDay.open("hall", "2026-12-01", CAUSE)  # its opening event is still pending
    kept.give_back([changed])
    assert kept.lend(changed.id) is None


def test_past_its_size_the_least_recently_given_back_go_first() -> None:
    kept = KeptCopies(size=2)
    a, b, c = day(1), day(2), day(3)
    kept.give_back([a, b])
    kept.give_back([a])  # a again: now the most recent
    kept.give_back([c])
    assert kept.lend(b.id) is None
    assert kept.lend(a.id) is a and kept.lend(c.id) is c


def test_a_size_of_zero_keeps_nothing() -> None:
    kept = KeptCopies(size=0)
    first = day(1)
    kept.give_back([first])
    assert kept.lend(first.id) is None
