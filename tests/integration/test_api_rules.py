"""Venue rules and check-in over real HTTP (DESIGN rules 12, 14, 17): the same commands as the
CLI, so the same refusals with the same codes, as problem documents."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from api_client import People, main_hall_with_admin
from api_story import ADMIN, A, B
from bookit import commands as c
from bookit.bootstrap import Service
from conftest import FakeClock


@pytest.fixture
def people(service: Service) -> Iterator[People]:
    with main_hall_with_admin(service, ADMIN) as crowd:
        yield crowd


def test_rule_12_an_admin_puts_rules_and_anyone_reads_them(people: People) -> None:
    put = people(ADMIN).put(
        "/api/venues/main-hall/rules", json={"buffer_minutes": 15, "quota_bookings": "2/day"}
    )
    assert put.status_code == 200, put.text
    assert put.json()["changed"] == ["buffer_minutes", "quotas"]
    got = people(A).get("/api/venues/main-hall/rules").json()
    assert got["rules"]["buffer_minutes"] == 15
    assert got["rules"]["quotas"] == [{"kind": "bookings", "limit": 2, "period": "day"}]


def test_rule_12_rules_over_http_refuse_what_the_cli_refuses(people: People) -> None:
    by_user = people(A).put("/api/venues/main-hall/rules", json={"buffer_minutes": 15})
    assert (by_user.status_code, by_user.json()["code"]) == (403, "not_admin")
    bad = people(ADMIN).put("/api/venues/main-hall/rules", json={"offer_mode": "batch:1"})
    assert bad.status_code in (400, 422) and "offer_mode" in bad.json()["detail"]
    unknown = people(ADMIN).put("/api/venues/nowhere/rules", json={"buffer_minutes": 5})
    assert unknown.status_code == 404


def test_rule_13_a_booking_too_close_to_another_is_refused_over_http(people: People) -> None:
    people(ADMIN).put("/api/venues/main-hall/rules", json={"buffer_minutes": 30})
    slot = {"venue_id": "main-hall", "date": "2026-12-05", "start": "10:00", "end": "11:00"}
    assert people(A).post("/api/bookings", json=slot).status_code == 201
    near = people(B).post("/api/bookings", json=slot | {"start": "11:15", "end": "12:00"})
    assert (near.status_code, near.json()["code"]) == (409, "buffer_conflict")


def test_rule_14_the_owner_checks_in_over_http_once_it_has_started(
    service: Service, people: People, clock: FakeClock
) -> None:
    people(ADMIN).put("/api/venues/main-hall/rules", json={"check_in_minutes": 15})
    slot = {"venue_id": "main-hall", "date": "2026-12-05", "start": "10:00", "end": "11:00"}
    booking_id = people(A).post("/api/bookings", json=slot).json()["booking_id"]
    early = people(A).post(f"/api/bookings/{booking_id}/check-in")
    assert (early.status_code, early.json()["code"]) == (409, "check_in_not_open")
    clock.set(datetime(2026, 12, 5, 10, 5, tzinfo=UTC))
    stranger = people(B).post(f"/api/bookings/{booking_id}/check-in")
    assert (stranger.status_code, stranger.json()["code"]) == (403, "not_owner")
    done = people(A).post(f"/api/bookings/{booking_id}/check-in")
    assert done.status_code == 200 and done.json() == {"booking_id": booking_id, "checked_in": True}
    clock.set(datetime(2026, 12, 5, 10, 20, tzinfo=UTC))
    service.bus.handle(c.Tick(now=clock.now))
    assert people(A).get(f"/api/bookings/{booking_id}").json()["status"] == "booked"  # never released
