"""The authorization matrix: every route x (owner, another user, an admin, no token, a bad
token). A user sees and acts on their own bookings and entries, an admin sees all (and only an
admin overrides or registers venues), and a refused caller writes nothing."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import httpx
import pytest

from api_client import People, api_server, token
from bookit import commands as c
from bookit.aggregates.base import SYSTEM
from bookit.bootstrap import Service

OWNER, OTHER, ADMIN, CAROL = "ann@example.com", "bob@example.com", "admin@example.com", "carol@example.com"
ROLES = ("owner", "other", "admin", "none", "bad")
_days = itertools.count()


@dataclass
class World:
    service: Service
    people: People

    def send(self, cls: type[c.Command], **fields: Any) -> dict[str, Any]:
        return self.service.bus.handle(c.build(cls, **fields))

    def slot(self) -> dict[str, str]:
        """A slot nobody has used yet, each on a day of its own (the waitlist allows 3 a day)."""
        day = date(2026, 12, 3) + timedelta(days=next(_days))
        return {"venue_id": "main-hall", "date": day.isoformat(), "start": "10:00", "end": "11:00"}

    def booking(self) -> str:
        return str(self.send(c.BookVenue, actor=OWNER, **self.slot())["booking_id"])

    def waiting_entry(self) -> str:
        slot = self.slot()
        self.send(c.BookVenue, actor=CAROL, **slot)
        return str(self.send(c.JoinWaitlist, actor=OWNER, **slot)["entry_id"])

    def offered_entry(self) -> str:
        slot = self.slot()
        booking = self.send(c.BookVenue, actor=CAROL, **slot)["booking_id"]
        entry = str(self.send(c.JoinWaitlist, actor=OWNER, **slot)["entry_id"])
        self.send(c.CancelBooking, actor=CAROL, booking_id=booking)
        return entry

    def client(self, role: str) -> httpx.Client:
        if role == "none":
            return self.people.anonymous()
        if role == "bad":
            forged = token(OWNER, secret="not-the-configured-secret-but-long-enough")
            return self.people.anonymous(Authorization=f"Bearer {forged}")
        return self.people({"owner": OWNER, "other": OTHER, "admin": ADMIN}[role])


Request = Callable[[World], tuple[str, str, Any]]
_venues = itertools.count()

MATRIX: dict[str, tuple[Request, tuple[int, int, int]]] = {
    "POST /api/venues": (
        lambda w: ("POST", "/api/venues", {"name": f"Room {next(_venues)}", "tz": "UTC"}),
        (403, 403, 201),
    ),
    "GET /api/venues": (lambda w: ("GET", "/api/venues", None), (200, 200, 200)),
    "GET /api/venues/{id}/availability": (
        lambda w: ("GET", "/api/venues/main-hall/availability?date=2026-12-03", None),
        (200, 200, 200),
    ),
    "PUT /api/venues/{id}/rules": (
        lambda w: ("PUT", "/api/venues/main-hall/rules", {"buffer_minutes": 10}),
        (403, 403, 200),
    ),
    "GET /api/venues/{id}/rules": (lambda w: ("GET", "/api/venues/main-hall/rules", None), (200, 200, 200)),
    # Allowed to the owner only; with no check-in rule at this venue the rule then says no (409).
    "POST /api/bookings/{id}/check-in": (
        lambda w: ("POST", f"/api/bookings/{w.booking()}/check-in", None),
        (409, 403, 403),
    ),
    "POST /api/bookings": (lambda w: ("POST", "/api/bookings", w.slot()), (201, 201, 201)),
    "GET /api/bookings?user=owner": (
        lambda w: ("GET", f"/api/bookings?user={OWNER}", None),
        (200, 403, 200),
    ),
    "GET /api/bookings/{id}": (lambda w: ("GET", f"/api/bookings/{w.booking()}", None), (200, 403, 200)),
    "POST /api/bookings/{id}/confirm": (
        lambda w: ("POST", f"/api/bookings/{w.booking()}/confirm", None),
        (200, 403, 403),
    ),
    "POST /api/bookings/{id}/cancel": (
        lambda w: ("POST", f"/api/bookings/{w.booking()}/cancel", {"reason": "plans changed"}),
        (200, 403, 403),
    ),
    "POST /api/bookings/{id}/override": (
        lambda w: ("POST", f"/api/bookings/{w.booking()}/override", None),
        (403, 403, 200),
    ),
    "GET /api/bookings/{id}/history": (
        lambda w: ("GET", f"/api/bookings/{w.booking()}/history", None),
        (200, 403, 200),
    ),
    "POST /api/waitlist": (
        lambda w: ("POST", "/api/waitlist", _taken(w)),
        (201, 201, 201),
    ),
    "GET /api/waitlist/mine": (lambda w: ("GET", "/api/waitlist/mine", None), (200, 200, 200)),
    # Everyone may ask, and each gets their own feed (tests/integration/test_calendar_feed.py).
    "GET /api/calendar.ics": (lambda w: ("GET", "/api/calendar.ics", None), (200, 200, 200)),
    "POST /api/waitlist/{id}/claim": (
        lambda w: ("POST", f"/api/waitlist/{w.offered_entry()}/claim", None),
        (201, 403, 403),
    ),
    "POST /api/waitlist/{id}/decline": (
        lambda w: ("POST", f"/api/waitlist/{w.offered_entry()}/decline", None),
        (200, 403, 403),
    ),
    "DELETE /api/waitlist/{id}": (
        lambda w: ("DELETE", f"/api/waitlist/{w.waiting_entry()}", None),
        (200, 403, 403),
    ),
    "GET /api/waitlist/{id}/history": (
        lambda w: ("GET", f"/api/waitlist/{w.waiting_entry()}/history", None),
        (200, 403, 200),
    ),
    # Everyone may ask, and each gets their own data (tests/integration/test_person_export.py).
    "GET /api/me/export": (lambda w: _known(w, "GET", "/api/me/export"), (200, 200, 200)),
}


def _known(world: World, method: str, path: str) -> tuple[str, str, None]:
    """A request about the caller's own data, once the owner and the other have some."""
    for who in (OWNER, OTHER):
        world.send(c.BookVenue, actor=who, **world.slot())
    return method, path, None


def _taken(world: World) -> dict[str, str]:
    slot = world.slot()
    world.send(c.BookVenue, actor=CAROL, **slot)
    return slot


@pytest.fixture
def world(service: Service) -> Iterator[World]:
    service.bus.handle(c.GrantAdmin(actor=SYSTEM, email=ADMIN))
    service.bus.handle(c.RegisterVenue(actor=SYSTEM, name="Main Hall", tz="Europe/London"))
    with api_server(service) as base:
        people = People(base)
        yield World(service, people)
        people.close()


def test_the_matrix_covers_every_route_in_the_spec(world: World) -> None:
    spec = world.people(OWNER).get("/api/openapi.json").json()
    routes = {f"{method.upper()} {path}" for path, item in spec["paths"].items() for method in item}
    covered = {name.split("?")[0].replace("{id}", "") for name in MATRIX}
    assert {
        r.replace("{venue_id}", "").replace("{booking_id}", "").replace("{entry_id}", "") for r in routes
    } == covered


@pytest.mark.parametrize("route", sorted(MATRIX))
def test_who_may_call(world: World, route: str) -> None:
    request, (owner, other, admin) = MATRIX[route]
    expected = dict(zip(ROLES, (owner, other, admin, 401, 401), strict=True))
    got = {}
    for role in ROLES:
        method, path, body = request(world)
        before = world.service.app.recorder.max_notification_id()
        answer = world.client(role).request(method, path, json=body)
        got[role] = answer.status_code
        if answer.status_code >= 400:
            assert answer.headers["content-type"] == "application/problem+json"
            assert world.service.app.recorder.max_notification_id() == before, f"{role} wrote something"
        if answer.status_code == 403:
            assert answer.json()["code"] in ("not_owner", "not_admin")
    assert got == expected
