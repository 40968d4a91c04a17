"""The seed guide's "Test 3" told through the HTTP API, for any store and bus: an unconfirmed
booking is auto-cancelled, the first in line lets the offer run out, the next one claims it.

`tick(instant)` is the service's clock loop (what `bookit run` does every N seconds) and
`at(instant)` moves the clock the API and the worker read. Everything a person does goes through
HTTP with their own token.
"""

from __future__ import annotations

from collections.abc import Callable

from api_client import People

A, B, C = "alice@example.com", "bob@example.com", "carol@example.com"
ADMIN = "admin@example.com"
SLOT = {"venue_id": "main-hall", "date": "2026-12-05", "start": "10:00", "end": "12:00"}


def topics(rows: list[dict[str, object]]) -> list[object]:
    return [row["topic"] for row in rows]


def waitlist_story(people: People, tick: Callable[[str], None], at: Callable[[str], None]) -> dict[str, str]:
    at("2026-12-01T09:00:00+00:00")
    venue = people(ADMIN).post("/api/venues", json={"name": "Main Hall", "tz": "Europe/London"})
    assert (venue.status_code, venue.json()) == (201, {"venue_id": "main-hall"})

    # A books; the slot is full, so B and C join its waitlist, in that order.
    made = people(A).post("/api/bookings", json=SLOT | {"purpose": "Choir"})
    assert made.status_code == 201 and made.json()["status"] == "booked"
    booking = made.json()["booking_id"]
    b_entry = people(B).post("/api/waitlist", json=SLOT)
    c_entry = people(C).post("/api/waitlist", json=SLOT)
    assert (b_entry.status_code, c_entry.status_code) == (201, 201)
    assert (b_entry.json()["position"], c_entry.json()["position"]) == (1, 2)
    b_id, c_id = b_entry.json()["entry_id"], c_entry.json()["entry_id"]
    day = people(C).get("/api/venues/main-hall/availability", params={"date": "2026-12-05"}).json()
    assert {"start": "10:00", "end": "12:00", "state": "booked"} in day["intervals"]

    # 24 h before: A is reminded, and does not answer.
    tick("2026-12-04T10:00:00+00:00")
    assert people(A).get(f"/api/bookings/{booking}").json()["reminded"] is True

    # 2 h before: A is auto-cancelled; B is offered the slot for 15 minutes, which holds it.
    tick("2026-12-05T08:00:00+00:00")
    assert people(A).get(f"/api/bookings/{booking}").json()["status"] == "auto_cancelled"
    [b_mine] = people(B).get("/api/waitlist/mine").json()
    assert (b_mine["entry_id"], b_mine["status"], b_mine["seconds_left"]) == (b_id, "offered", 900)
    day = people(A).get("/api/venues/main-hall/availability", params={"date": "2026-12-05"}).json()
    assert {"start": "10:00", "end": "12:00", "state": "held"} in day["intervals"]
    held = people(A).post("/api/bookings", json=SLOT)
    assert (held.status_code, held.json()["code"]) == (409, "slot_held")

    # B lets it run out; after the deadline B can no longer claim, and the offer moves to C.
    tick("2026-12-05T08:15:00+00:00")
    at("2026-12-05T08:16:00+00:00")
    late = people(B).post(f"/api/waitlist/{b_id}/claim")
    assert late.status_code == 409 and late.json()["code"] == "no_offer"
    assert late.headers["content-type"] == "application/problem+json"
    at("2026-12-05T08:20:00+00:00")
    [c_mine] = people(C).get("/api/waitlist/mine").json()
    assert (c_mine["status"], c_mine["seconds_left"]) == ("offered", 600)

    # C claims within the window: the slot is C's, confirmed.
    claimed = people(C).post(f"/api/waitlist/{c_id}/claim")
    assert claimed.status_code == 201, claimed.text
    c_booking = claimed.json()["booking_id"]
    assert claimed.json()["entry_id"] == c_id
    mine = people(C).get(f"/api/bookings/{c_booking}").json()
    assert (mine["status"], mine["confirmed"], mine["waitlist_entry_id"]) == ("confirmed", True, c_id)

    everyone = people(ADMIN).get("/api/bookings", params={"user": "*"}).json()
    assert {(r["user"], r["status"], r["confirmed"]) for r in everyone} == {
        (A, "auto_cancelled", False),
        (C, "confirmed", True),
    }
    assert people(B).get("/api/waitlist/mine").json() == []
    a_history = topics(people(A).get(f"/api/bookings/{booking}/history").json())
    assert a_history[0] == "booking.booked" and "booking.auto_cancelled" in a_history
    b_history = topics(people(B).get(f"/api/waitlist/{b_id}/history").json())
    assert "waitlist.notified" in b_history and "waitlist.expired" in b_history
    c_history = topics(people(ADMIN).get(f"/api/waitlist/{c_id}/history").json())
    assert "waitlist.claimed" in c_history
    return {"booking": booking, "b_entry": b_id, "c_entry": c_id, "c_booking": c_booking}
