"""Disputes answered from the record: history of anything, time travel, explanations, checks.

Plain functions over a bootstrapped `Service` (or its `app`), returning plain data, so the CLI
and the HTTP API show the same thing:

- `history(service, id, emails=False)`: a booking's, a waitlist entry's or a slot's story;
- `as_of(app, id, instant)`: a booking's or an entry's state at an instant, from the event store;
- `explain(service, entry_id)`: who was ahead of an entry at each offer, and why;
- `history_data(service, id, emails=True)`: the history as one JSON-ready dict (for the API).
"""

from __future__ import annotations

from typing import Any

from bookit.audit.as_of import as_of
from bookit.audit.explain import explain, explain_lines
from bookit.audit.history import History, history
from bookit.audit.history import email_line as history_email_line
from bookit.audit.resolve import BOOKING, ENTRY, SLOT, Subject, resolve
from bookit.audit.show import show_now


def history_data(service: Any, text: str, *, emails: bool = True) -> dict[str, Any]:
    """What `GET /api/bookings/{id}/history` and `GET /api/waitlist/{id}/history` return."""
    found = history(service, text, emails=emails)
    return {"id": str(found.subject.id), "kind": found.subject.kind, "steps": found.steps}


__all__ = [
    "BOOKING",
    "ENTRY",
    "SLOT",
    "History",
    "Subject",
    "as_of",
    "explain",
    "explain_lines",
    "history",
    "history_data",
    "history_email_line",
    "resolve",
    "show_now",
]
