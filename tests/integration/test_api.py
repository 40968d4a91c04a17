"""The HTTP API over real HTTP on the embedded store: the waitlist story, idempotent retries
(also of a refused first attempt, also from another process), a double click on claim, and the
problem documents a client gets for what it sends wrong."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from api_client import People, api_server, people_on
from api_story import ADMIN, SLOT, A, B, C, waitlist_story
from bookit import commands as c
from bookit.aggregates.base import SYSTEM
from bookit.bootstrap import Service, bootstrap
from bookit.errors import BookitError
from bookit.projections import queries
from conftest import FakeClock


@pytest.fixture
def people(service: Service) -> Iterator[People]:
    service.bus.handle(c.GrantAdmin(actor=SYSTEM, email=ADMIN))
    with people_on(service) as crowd:
        yield crowd


@pytest.fixture
def hall(service: Service, people: People) -> str:
    service.bus.handle(c.RegisterVenue(actor=SYSTEM, name="Main Hall", tz="Europe/London"))
    return "main-hall"


def events(service: Service) -> int:
    return service.app.recorder.max_notification_id() or 0


def test_the_seeds_waitlist_story_through_the_api(service: Service, people: People, clock: FakeClock) -> None:
    def tick(instant: str) -> None:
        clock.set(datetime.fromisoformat(instant))
        service.bus.handle(c.Tick(now=clock.now))

    waitlist_story(people, tick, lambda instant: clock.set(datetime.fromisoformat(instant)))
    kinds = sorted(row["kind"] for row in queries.outbox(service.engine))
    assert kinds.count("waitlist-offer") == 2 and kinds.count("auto-cancelled") == 1


def test_a_retried_booking_has_one_effect_and_the_first_answer(
    service: Service, people: People, hall: str
) -> None:
    key = {"Idempotency-Key": "booking-form-7"}
    first = people(A).post("/api/bookings", json=SLOT, headers=key)
    again = people(A).post("/api/bookings", json=SLOT, headers=key)
    assert first.status_code == again.status_code == 201
    assert first.json() == again.json()
    assert len(queries.booking_list(service.engine, user=A)) == 1
    # Another person's identical key is their own request.
    other = people(B).post("/api/bookings", json=SLOT, headers=key)
    assert (other.status_code, other.json()["code"]) == (409, "slot_taken")


def test_a_retry_after_a_refusal_hears_the_same_refusal_even_from_another_process(
    service: Service, people: People, hall: str, tmp_path: Path, clock: FakeClock
) -> None:
    booking = people(A).post("/api/bookings", json=SLOT).json()["booking_id"]
    key = {"Idempotency-Key": "bob-tries-once"}
    refused = people(B).post("/api/bookings", json=SLOT, headers=key)
    assert (refused.status_code, refused.json()["code"]) == (409, "slot_taken")
    assert people(A).post(f"/api/bookings/{booking}/cancel").status_code == 200
    before = events(service)

    again = people(B).post("/api/bookings", json=SLOT, headers=key)
    assert (again.status_code, again.json()) == (409, refused.json())
    elsewhere = bootstrap(tmp_path / "home", clock=clock)  # a second process on the same store
    try:
        with api_server(elsewhere) as base:
            third = People(base)(B).post("/api/bookings", json=SLOT, headers=key)
    finally:
        elsewhere.close()
    assert (third.status_code, third.json()) == (409, refused.json())
    assert events(service) == before, "a replayed refusal wrote something"
    fresh = people(B).post("/api/bookings", json=SLOT, headers={"Idempotency-Key": "bob-tries-again"})
    assert fresh.status_code == 201


def test_a_retried_claim_returns_the_first_201(service: Service, people: People, hall: str) -> None:
    entry = _offered_entry(service, people)
    key = {"Idempotency-Key": "claim-1"}
    first = people(B).post(f"/api/waitlist/{entry}/claim", headers=key)
    again = people(B).post(f"/api/waitlist/{entry}/claim", headers=key)
    assert (first.status_code, again.status_code) == (201, 201)
    assert first.json() == again.json()
    unkeyed = people(B).post(f"/api/waitlist/{entry}/claim")
    assert (unkeyed.status_code, unkeyed.json()["code"]) == (409, "no_offer")


def test_a_double_click_on_claim_from_two_clients_has_one_winner(
    service: Service, people: People, hall: str
) -> None:
    entry = _offered_entry(service, people)
    start = threading.Barrier(2)
    answers: list[httpx.Response] = []

    def click() -> None:
        with httpx.Client(base_url=people.base, headers=people(B).headers, timeout=60) as client:
            start.wait()
            answers.append(client.post(f"/api/waitlist/{entry}/claim"))

    clicks = [threading.Thread(target=click) for _ in range(2)]
    for thread in clicks:
        thread.start()
    for thread in clicks:
        thread.join(timeout=60)
    assert sorted(r.status_code for r in answers) == [201, 409]
    [lost] = [r for r in answers if r.status_code == 409]
    assert lost.json()["code"] == "no_offer"
    claimed = [b for b in queries.booking_list(service.engine, user=B) if b["waitlist_entry_id"] == entry]
    assert len(claimed) == 1


def _offered_entry(service: Service, people: People) -> str:
    booking = people(A).post("/api/bookings", json=SLOT).json()["booking_id"]
    entry = str(people(B).post("/api/waitlist", json=SLOT).json()["entry_id"])
    assert people(A).post(f"/api/bookings/{booking}/cancel", json={"reason": "ill"}).status_code == 200
    [mine] = people(B).get("/api/waitlist/mine").json()
    assert mine["status"] == "offered"
    return entry


# What a client sends wrong: a problem document, the right status, nothing written


def _problem(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    assert set(body) == {"type", "title", "status", "detail", "code"}
    assert (body["status"], body["code"]) == (status, code)
    return body


def test_malformed_unknown_and_oversized_bodies(service: Service, people: People, hall: str) -> None:
    before = events(service)
    ann = people(A)
    json_header = {"Content-Type": "application/json"}
    _problem(ann.post("/api/bookings", content=b'{"venue_id": ', headers=json_header), 400, "malformed_json")
    _problem(ann.post("/api/bookings", content=b"not json at all"), 400, "malformed_json")
    deep = b"[" * 30_000 + b"]" * 30_000  # valid JSON no parser should follow all the way down
    _problem(ann.post("/api/bookings", content=deep, headers=json_header), 400, "malformed_json")
    form = {"Content-Type": "application/x-www-form-urlencoded"}  # what `curl -d` sends by default
    _problem(
        ann.post("/api/bookings", content=b"venue_id=main-hall", headers=form), 415, "unsupported_media_type"
    )
    _problem(ann.post("/api/bookings", json=SLOT | {"date": "9999-12-31"}), 422, "bad_date")
    body = _problem(ann.post("/api/bookings", json=SLOT | {"sneaky": 1}), 422, "invalid_request")
    assert "sneaky" in body["detail"]
    _problem(ann.post("/api/bookings", json=[SLOT]), 422, "invalid_request")
    huge = SLOT | {"purpose": "x" * (65 * 1024)}
    _problem(ann.post("/api/bookings", json=huge), 413, "body_too_large")
    _problem(ann.post("/api/bookings", json=SLOT | {"purpose": "x" * 1001}), 422, "invalid_request")
    _problem(
        ann.post("/api/bookings", json=SLOT, headers={"Idempotency-Key": "k" * 201}), 422, "invalid_request"
    )
    assert events(service) == before
    # JSON sent without a Content-Type is read as JSON.
    untyped = ann.post("/api/bookings", content=json.dumps(SLOT).encode())
    assert untyped.status_code == 201, untyped.text


def test_every_routes_refusals(service: Service, people: People, hall: str) -> None:
    ann, bob, admin = people(A), people(B), people(ADMIN)
    missing = "00000000-0000-4000-8000-000000000000"
    # venues
    _problem(ann.post("/api/venues", json={"name": "Annex", "tz": "UTC"}), 403, "not_admin")
    _problem(admin.post("/api/venues", json={"name": "Main Hall", "tz": "UTC"}), 409, "venue_exists")
    _problem(admin.post("/api/venues", json={"name": "Annex", "tz": "Mars/Olympus"}), 422, "bad_tz")
    _problem(ann.get("/api/venues/nowhere/availability", params={"date": "2026-12-05"}), 404, "unknown_venue")
    _problem(ann.get(f"/api/venues/{hall}/availability", params={"date": "2026-02-30"}), 422, "bad_date")
    _problem(ann.get(f"/api/venues/{hall}/availability"), 422, "invalid_request")
    # bookings
    _problem(ann.post("/api/bookings", json=SLOT | {"venue_id": "nowhere"}), 404, "unknown_venue")
    _problem(ann.post("/api/bookings", json=SLOT | {"date": "2026-11-30"}), 422, "in_the_past")
    _problem(ann.post("/api/bookings", json=SLOT | {"end": "09:00"}), 422, "end_before_start")
    spring = SLOT | {"date": "2027-03-28", "start": "01:30", "end": "02:30"}  # not a London time
    _problem(ann.post("/api/bookings", json=spring), 422, "nonexistent_local_time")
    booking = ann.post("/api/bookings", json=SLOT).json()["booking_id"]
    _problem(bob.post("/api/bookings", json=SLOT), 409, "slot_taken")
    _problem(bob.get("/api/bookings", params={"user": A}), 403, "not_admin")
    _problem(bob.get(f"/api/bookings/{missing}"), 404, "unknown_booking")
    _problem(bob.get("/api/bookings/not-a-uuid"), 422, "invalid_request")
    _problem(bob.post(f"/api/bookings/{missing}/confirm"), 404, "unknown_booking")
    _problem(bob.post(f"/api/bookings/{booking}/confirm"), 403, "not_owner")
    _problem(bob.post(f"/api/bookings/{booking}/cancel"), 403, "not_owner")
    _problem(ann.post(f"/api/bookings/{booking}/override"), 403, "not_admin")
    _problem(bob.get(f"/api/bookings/{booking}/history"), 403, "not_owner")
    _problem(bob.get(f"/api/bookings/{missing}/history"), 404, "unknown_booking")
    # waitlist
    free = SLOT | {"start": "13:00", "end": "14:00"}
    _problem(bob.post("/api/waitlist", json=free), 409, "slot_free")
    _problem(ann.post("/api/waitlist", json=SLOT), 409, "already_booked")
    _problem(bob.post("/api/waitlist", json=SLOT | {"priority": 5}), 403, "not_admin")
    _problem(bob.post("/api/waitlist", json=SLOT | {"user": C}), 403, "not_admin")
    entry = bob.post("/api/waitlist", json=SLOT).json()["entry_id"]
    _problem(bob.post(f"/api/waitlist/{entry}/claim"), 409, "no_offer")
    _problem(bob.post(f"/api/waitlist/{entry}/decline"), 409, "no_offer")
    _problem(ann.post(f"/api/waitlist/{entry}/claim"), 403, "not_owner")
    _problem(ann.delete(f"/api/waitlist/{entry}"), 403, "not_owner")
    _problem(ann.get(f"/api/waitlist/{entry}/history"), 403, "not_owner")
    _problem(bob.post(f"/api/waitlist/{missing}/claim"), 404, "unknown_waitlist_entry")
    _problem(bob.get(f"/api/waitlist/{missing}/history"), 404, "unknown_waitlist_entry")
    assert bob.delete(f"/api/waitlist/{entry}").status_code == 200
    _problem(bob.delete(f"/api/waitlist/{entry}"), 409, "not_waiting")
    assert ann.post(f"/api/bookings/{booking}/cancel").status_code == 200
    _problem(ann.post(f"/api/bookings/{booking}/cancel"), 409, "already_cancelled")
    _problem(ann.post(f"/api/bookings/{booking}/confirm"), 409, "already_cancelled")
    # no such route or method: still a problem
    _problem(ann.get("/api/nothing-here"), 404, "no_such_route")
    _problem(ann.put("/api/bookings"), 405, "method_not_allowed")


def test_rule_17_the_api_refuses_exactly_what_the_local_bus_refuses(
    service: Service, people: People, hall: str
) -> None:
    """The same request through HTTP and through `service.bus.handle` (the CLI's way): the same
    code for every refusal, and nothing written by either."""
    booking = people(A).post("/api/bookings", json=SLOT).json()["booking_id"]
    nowhere = SLOT | {"venue_id": "nowhere"}
    cases: list[tuple[str, str, dict[str, Any] | None, type[c.Command], dict[str, Any]]] = [
        ("POST", "/api/bookings", SLOT, c.BookVenue, dict(SLOT)),
        ("POST", f"/api/bookings/{booking}/confirm", None, c.ConfirmBooking, {"booking_id": booking}),
        ("POST", f"/api/bookings/{booking}/override", None, c.WaiveAutoCancel, {"booking_id": booking}),
        (
            "POST",
            "/api/waitlist",
            SLOT | {"start": "13:00", "end": "14:00"},
            c.JoinWaitlist,
            SLOT | {"start": "13:00", "end": "14:00"},
        ),
        ("POST", "/api/waitlist", SLOT | {"priority": 3}, c.JoinWaitlist, SLOT | {"priority": 3}),
        ("POST", "/api/bookings", nowhere, c.BookVenue, nowhere),
    ]
    for method, path, body, cls, fields in cases:
        before = events(service)
        answer = people(B).request(method, path, json=body)
        with pytest.raises(BookitError) as local:
            service.bus.handle(c.build(cls, actor=B, **fields))
        assert answer.json()["code"] == local.value.code, path
        assert answer.json()["detail"] == local.value.message
        assert events(service) == before


CONTRACT_ROUTES = {
    ("post", "/api/venues"),
    ("get", "/api/venues"),
    ("get", "/api/venues/{venue_id}/availability"),
    ("post", "/api/bookings"),
    ("get", "/api/bookings"),
    ("get", "/api/bookings/{booking_id}"),
    ("post", "/api/bookings/{booking_id}/confirm"),
    ("post", "/api/bookings/{booking_id}/cancel"),
    ("post", "/api/bookings/{booking_id}/override"),
    ("get", "/api/bookings/{booking_id}/history"),
    ("post", "/api/waitlist"),
    ("get", "/api/waitlist/mine"),
    ("post", "/api/waitlist/{entry_id}/claim"),
    ("post", "/api/waitlist/{entry_id}/decline"),
    ("delete", "/api/waitlist/{entry_id}"),
    ("get", "/api/waitlist/{entry_id}/history"),
}


def test_the_openapi_document_describes_every_contract_route_and_the_docs_load_it(people: People) -> None:
    spec = people(A).get("/api/openapi.json").json()
    assert spec["openapi"].startswith("3.")
    served = {(method, path) for path, item in spec["paths"].items() for method in item}
    assert served >= CONTRACT_ROUTES
    assert spec["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"
    for method, path in CONTRACT_ROUTES:
        operation = spec["paths"][path][method]
        assert operation["security"] == [{"HTTPBearer": []}], path
        problems = {
            s for s, r in operation["responses"].items() if "application/problem+json" in r["content"]
        }
        assert {"401", "422", "503"} <= problems, path
    docs = people(A).get("/api/docs")
    assert docs.status_code == 200 and "/api/openapi.json" in docs.text
