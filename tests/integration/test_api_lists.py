"""The contract's "Lists and retries over HTTP", over real HTTP on the embedded store: every list
route pages (`?limit=`, `?cursor=`, `Link: rel="next"`, the body still a JSON array), a list is
the caller's own unless an admin says `?user=`, and an Idempotency-Key sent again with another
body or on another route is refused with 422 `idempotency_key_reused`, running nothing."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date, timedelta

import pytest

from api_client import People, main_hall_with_admin
from bookit import commands as c
from bookit.bootstrap import Service
from bookit.projections import queries

ANN, BOB, ADMIN = "ann@example.com", "bob@example.com", "admin@example.com"
SLOT = {"venue_id": "main-hall", "date": "2026-12-05", "start": "10:00", "end": "12:00"}
NEXT = re.compile(r'^<([^>]+)>; rel="next"$')


@pytest.fixture
def people(service: Service) -> Iterator[People]:
    with main_hall_with_admin(service, ADMIN) as crowd:
        yield crowd


def book_many(service: Service, count: int) -> set[str]:
    """`count` bookings, 20 a day from 2026-12-02, every other one Bob's (run one by one, the
    read models brought up to date once at the end)."""
    made = set()
    first = date(2026, 12, 2)
    now = service.bus.clock()
    for n in range(count):
        day, hour = divmod(n, 20)
        outcome = service.bus.run(
            c.BookVenue(
                actor=(ANN, BOB)[n % 2],
                venue_id="main-hall",
                date=str(first + timedelta(days=day)),
                start=f"{hour + 2:02d}:00",
                end=f"{hour + 2:02d}:30",
            ),
            now,
        )
        made.add(outcome["booking_id"])
    service.bus.settle(now)
    return made


def pages(people: People, who: str, url: str) -> list[list[dict[str, object]]]:
    """Follow the Link headers from `url` to the end; every page's body."""
    found = []
    while True:
        answer = people(who).get(url)
        assert answer.status_code == 200, answer.text
        assert isinstance(answer.json(), list)
        found.append(answer.json())
        link = answer.headers.get("link")
        if link is None:
            return found
        match = NEXT.match(link)
        assert match, link
        url = match.group(1)


def test_1200_bookings_in_pages_of_500_each_once(service: Service, people: People) -> None:
    made = book_many(service, 1200)
    got = pages(people, ADMIN, "/api/bookings?user=*&limit=500")
    assert [len(page) for page in got] == [500, 500, 200]
    ids = [row["booking_id"] for page in got for row in page]
    assert len(ids) == len(set(ids)) and set(ids) == made
    starts = [row["starts_at"] for page in got for row in page]
    assert starts == sorted(starts)
    # Without `limit`: 50 a page; a user's own list pages the same way.
    anns = pages(people, ANN, "/api/bookings")
    assert {len(page) for page in anns[:-1]} == {50} and sum(len(p) for p in anns) == 600
    assert {row["user"] for page in anns for row in page} == {ANN}


def test_a_booking_made_between_pages_is_listed_once(service: Service, people: People) -> None:
    book_many(service, 30)
    first = people(ADMIN).get("/api/bookings", params={"user": "*", "limit": 10})
    match = NEXT.match(first.headers["link"])
    assert match
    late = service.bus.handle(c.BookVenue(actor=ANN, **SLOT | {"date": "2027-01-05"}))["booking_id"]
    early = service.bus.handle(
        c.BookVenue(actor=ANN, **SLOT | {"date": "2026-12-01", "start": "23:00", "end": "23:30"})
    )
    rest = pages(people, ADMIN, match.group(1))
    ids = [row["booking_id"] for row in first.json()] + [row["booking_id"] for page in rest for row in page]
    assert len(ids) == len(set(ids)) == 31
    assert late in ids and early["booking_id"] not in ids  # sorts before the cursor: already passed


def test_every_list_route_pages(service: Service, people: People) -> None:
    spec = people(ANN).get("/api/openapi.json").json()
    lists = []
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            content = operation["responses"].get("200", {}).get("content", {})
            body = content.get("application/json", {}).get("schema", {})
            if body.get("type") == "array":
                lists.append((method, path))
                names = {p["name"] for p in operation.get("parameters", [])}
                assert {"limit", "cursor"} <= names, (method, path)
    assert ("get", "/api/bookings") in lists and ("get", "/api/venues") in lists and len(lists) >= 5
    for n in range(3):
        people(ADMIN).post("/api/venues", json={"name": f"Room {n}", "tz": "Europe/London"})
    venues = pages(people, ANN, "/api/venues?limit=2")
    assert [len(p) for p in venues] == [2, 2]
    ann = people(ANN).post("/api/bookings", json=SLOT).json()["booking_id"]
    for _ in range(3):
        people(ANN).post(f"/api/bookings/{ann}/confirm")
    history = pages(people, ANN, f"/api/bookings/{ann}/history?limit=1")
    assert len(history) == len(queries_history(service, ann)) and {len(p) for p in history} == {1}
    bad = people(ANN).get("/api/bookings", params={"cursor": "not-a-cursor"})
    assert (bad.status_code, bad.json()["code"]) == (422, "bad_cursor")


def queries_history(service: Service, booking_id: str) -> list[object]:
    from bookit import audit

    return list(audit.history(service, booking_id, emails=True).steps)


def test_a_list_is_your_own_unless_an_admin_asks_for_another(service: Service, people: People) -> None:
    people(ANN).post("/api/bookings", json=SLOT)
    people(BOB).post("/api/bookings", json=SLOT | {"start": "13:00", "end": "14:00"})
    assert people(ADMIN).get("/api/bookings").json() == []  # an admin's own: none
    assert [r["user"] for r in people(ADMIN).get("/api/bookings", params={"user": BOB}).json()] == [BOB]
    everyone = people(ADMIN).get("/api/bookings", params={"user": "*"}).json()
    assert sorted(r["user"] for r in everyone) == [ANN, BOB]
    assert [r["user"] for r in people(ANN).get("/api/bookings").json()] == [ANN]
    for whose in (BOB, "*"):
        refused = people(ANN).get("/api/bookings", params={"user": whose})
        assert (refused.status_code, refused.json()["code"]) == (403, "not_admin")
    spec = people(ANN).get("/api/openapi.json").json()
    [user] = [p for p in spec["paths"]["/api/bookings"]["get"]["parameters"] if p["name"] == "user"]
    assert "yours without it (an admin's too)" in user["description"] and "`*`" in user["description"]


def test_a_key_sent_again_with_another_body_or_route_is_refused_and_runs_nothing(
    service: Service, people: People
) -> None:
    key = {"Idempotency-Key": "form-42"}
    first = people(ANN).post("/api/bookings", json=SLOT, headers=key)
    assert first.status_code == 201
    events = service.app.recorder.max_notification_id()
    other_day = people(ANN).post("/api/bookings", json=SLOT | {"date": "2026-12-06"}, headers=key)
    assert (other_day.status_code, other_day.json()["code"]) == (422, "idempotency_key_reused")
    assert "send a new key with each new request" in other_day.json()["detail"]
    other_route = people(ANN).post("/api/waitlist", json=SLOT, headers=key)
    assert (other_route.status_code, other_route.json()["code"]) == (422, "idempotency_key_reused")
    booking = first.json()["booking_id"]
    confirm = people(ANN).post(f"/api/bookings/{booking}/confirm", headers=key)
    assert (confirm.status_code, confirm.json()["code"]) == (422, "idempotency_key_reused")
    assert service.app.recorder.max_notification_id() == events
    assert [r["date"] for r in queries.booking_list(service.engine, user=ANN)] == ["2026-12-05"]
    # The same request again is still the retry it always was: the first answer.
    again = people(ANN).post("/api/bookings", json=SLOT, headers=key)
    assert (again.status_code, again.json()) == (201, first.json())
    # Another person's same key is theirs alone.
    assert (
        people(BOB)
        .post("/api/bookings", json=SLOT | {"start": "13:00", "end": "14:00"}, headers=key)
        .status_code
        == 201
    )
