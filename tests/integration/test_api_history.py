"""`GET /api/bookings/{id}/history` and `GET /api/waitlist/{id}/history` give what
`bookit history ID --emails` gives (issue 11): every step, in words for an entry, with the
emails each event owed, over real HTTP after the seed's waitlist story."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

import pytest

from api_client import People, people_on
from api_story import ADMIN, B, C, waitlist_story
from bookit import audit
from bookit import commands as c
from bookit.aggregates.base import SYSTEM
from bookit.bootstrap import Service
from bookit.projections import queries
from conftest import FakeClock


@pytest.fixture
def people(service: Service) -> Iterator[People]:
    service.bus.handle(c.GrantAdmin(actor=SYSTEM, email=ADMIN))
    with people_on(service) as crowd:
        yield crowd


def test_history_over_http_is_the_audit_history_with_its_emails(
    service: Service, people: People, clock: FakeClock
) -> None:
    def tick(instant: str) -> None:
        clock.set(datetime.fromisoformat(instant))
        service.bus.handle(c.Tick(now=clock.now))

    ids = waitlist_story(people, tick, lambda instant: clock.set(datetime.fromisoformat(instant)))

    b_steps = people(B).get(f"/api/waitlist/{ids['b_entry']}/history").json()
    assert b_steps == audit.history(service, ids["b_entry"], emails=True).steps
    said = [step["text"] for step in b_steps]
    assert any(t.startswith(f"{B} joined the queue") and "at position 1" in t for t in said)
    assert any(t.startswith(f"{B}'s offer ran out") for t in said)
    mailed = {e["message_id"]: e["kind"] for step in b_steps for e in step["emails"]}
    sent_to_b = {r["message_id"]: r["kind"] for r in queries.outbox(service.engine, to=B)}
    assert mailed == sent_to_b and sorted(mailed.values()) == ["waitlist-expired", "waitlist-offer"]

    c_booking = people(C).get(f"/api/bookings/{ids['c_booking']}/history").json()
    # A booking's steps are its audit rows as the CLI prints them (no sentence: `text` is null).
    assert [
        {**step, "text": None} for step in audit.history(service, ids["c_booking"], emails=True).steps
    ] == c_booking
    assert [e["kind"] for step in c_booking for e in step["emails"]] == ["waitlist-claimed"]
