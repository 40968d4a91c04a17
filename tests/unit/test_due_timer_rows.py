"""A due timer's row: the id of the command it nominates, and its instant rounded up to the
second. A tick that runs twice must nominate the same command, so the text the projection
writes must be exactly the id `timer_command_id` derives."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from bookit.projections.due_timers import _command_text, _not_before, timer_command_id


@given(st.text(), st.text())
def test_the_command_id_written_is_the_derived_one(timer_key: str, due_at: str) -> None:
    assert _command_text(timer_key, due_at) == str(timer_command_id(timer_key, due_at))


def test_a_due_instant_is_rounded_up_to_the_second() -> None:
    assert _not_before(datetime(2026, 12, 1, 9, 0, 0, tzinfo=UTC)) == "2026-12-01T09:00:00Z"
    assert _not_before(datetime(2026, 12, 1, 9, 0, 0, 1, tzinfo=UTC)) == "2026-12-01T09:00:01Z"
    assert _not_before(datetime(2026, 12, 31, 23, 59, 59, 500_000, tzinfo=UTC)) == "2027-01-01T00:00:00Z"
