"""The Check-in link of the check-in email (DESIGN rule 14): it checks in its recipient, once,
and only while check-in is open; GET changes nothing. Through the real links server."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import httpx
from test_web_links import email_link, running_links, said

from bookit import commands as c
from bookit.bootstrap import Service

ADMIN, ALICE = "admin@example.com", "alice@example.com"


def test_rule_14_the_check_in_link_checks_in_once_and_the_booking_is_not_released(
    service: Service, driver: Any
) -> None:
    driver.send(c.GrantAdmin, actor="system", email=ADMIN)
    venue = driver.venue()
    driver.send(c.SetVenueRules, actor=ADMIN, venue_id=venue, check_in_minutes=15)
    booking = driver.book(ALICE, venue, "2026-12-03", "14:00", "16:00")
    driver.clock.set(datetime(2026, 12, 3, 14, 0, tzinfo=UTC))
    driver.tick()
    path = email_link(service, "check-in", ALICE, "Check in")
    with running_links(service) as web:
        page = web.get(path)
        assert page.status_code == 200 and "Check in" in said(page)
        assert service.app.booking(UUID(booking)).checked_in_at is None  # GET changed nothing
        driver.clock.set(datetime(2026, 12, 3, 14, 5, tzinfo=UTC))
        done = web.post(path)
        assert done.status_code == 200 and "Checked in" in said(done)
        again = web.post(path)
        assert again.status_code == 200  # the same link twice: one effect
    driver.clock.set(datetime(2026, 12, 3, 14, 30, tzinfo=UTC))
    driver.tick()
    assert service.app.booking(UUID(booking)).status == "booked"


def test_rule_14_the_check_in_link_stops_working_when_check_in_closes(service: Service, driver: Any) -> None:
    driver.send(c.GrantAdmin, actor="system", email=ADMIN)
    venue = driver.venue()
    driver.send(c.SetVenueRules, actor=ADMIN, venue_id=venue, check_in_minutes=15)
    driver.book(ALICE, venue, "2026-12-03", "14:00", "16:00")
    driver.clock.set(datetime(2026, 12, 3, 14, 0, tzinfo=UTC))
    driver.tick()
    path = email_link(service, "check-in", ALICE, "Check in")
    driver.clock.set(datetime(2026, 12, 3, 14, 15, tzinfo=UTC))
    with running_links(service) as web:
        late: httpx.Response = web.post(path)
    assert late.status_code == 410
