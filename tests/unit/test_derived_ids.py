"""Derived ids are uuid5 of their key's text, whether or not the key was asked for before."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from uuid import UUID, uuid5

from hypothesis import given
from hypothesis import strategies as st

from bookit.aggregates.base import NAMESPACE, derived_id

parts = st.lists(st.one_of(st.text(), st.integers(), st.booleans(), st.uuids(), st.floats()), max_size=4)


@given(parts)
def test_a_derived_id_is_the_uuid5_of_its_keys_text_asked_once_or_again(key: list[object]) -> None:
    expected = uuid5(NAMESPACE, "/".join(str(part) for part in key))
    assert derived_id(*key) == expected
    assert derived_id(*key) == expected


def test_equal_values_written_differently_name_different_things() -> None:
    """The cache is keyed by the text, not the values: 1, 1.0 and True, or one instant in two
    zones, are equal in Python but are different keys."""
    noon = datetime(2026, 12, 5, 12, tzinfo=UTC)
    same_instant = noon.astimezone(timezone(timedelta(hours=1)))
    assert noon == same_instant
    assert derived_id("timer", noon) != derived_id("timer", same_instant)
    assert len({derived_id("x", 1), derived_id("x", 1.0), derived_id("x", True)}) == 3
    assert derived_id("venue", "main-hall") == UUID(str(uuid5(NAMESPACE, "venue/main-hall")))
