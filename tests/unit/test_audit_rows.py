"""An audit row's data is the event's fields as `json.JSONEncoder` writes them, sorted, compact,
instants as UTC text and ids as text, whichever encoder `projections/audit.py` runs."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from hypothesis import given
from hypothesis import strategies as st

from bookit.projections import audit

_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False)
    | st.text()
    | st.uuids()
    | st.datetimes(timezones=st.just(UTC))
)
_VALUES = st.recursive(
    _SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)


@given(st.dictionaries(st.text(), _VALUES, max_size=8))
def test_audit_data_is_what_json_encoder_writes(data: dict[str, Any]) -> None:
    stdlib = json.JSONEncoder(sort_keys=True, separators=(",", ":"), default=audit._plain)
    assert audit._encoded(data) == stdlib.encode(data)


def test_instants_and_ids_are_written_as_text() -> None:
    data = {"b": datetime(2026, 12, 5, 8, 0, tzinfo=UTC), "a": UUID(int=1), "c": ["é", 1.5]}
    assert audit._encoded(data) == (
        '{"a":"00000000-0000-0000-0000-000000000001","b":"2026-12-05T08:00:00Z","c":["\\u00e9",1.5]}'
    )
