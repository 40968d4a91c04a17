"""Venues: an admin registers one; anyone signed in lists them and reads a day's availability."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from bookit import commands as c
from bookit.entrypoints.api import schemas as s
from bookit.entrypoints.api.deps import ALWAYS, WITH_BODY, CallerDep, IdempotencyKey
from bookit.entrypoints.api.pages import PageDep
from bookit.entrypoints.api.problems import documented
from bookit.errors import NotFound
from bookit.projections import queries

router = APIRouter(prefix="/api/venues", tags=["venues"])


@router.post("", status_code=201, responses=WITH_BODY | documented(403, 409))
def register_venue(body: s.NewVenue, caller: CallerDep, key: IdempotencyKey = None) -> s.VenueCreated:
    """Register a venue (admins only). Its id is derived from the name unless given."""
    outcome = caller.door.run(c.RegisterVenue, caller.actor, "venue.register", key, **body.model_dump())
    return s.VenueCreated(venue_id=outcome["venue_id"])


@router.get("", responses=ALWAYS)
def list_venues(caller: CallerDep, page: PageDep) -> list[s.Venue]:
    """Every venue, by id, a page at a time."""
    rows = queries.venue_list(caller.door.service.engine)
    return [s.Venue(**row) for row in page.of(rows, lambda row: (row["venue_id"],))]


@router.get("/{venue_id}/availability", responses=ALWAYS | documented(404))
def availability(venue_id: str, caller: CallerDep, date: Annotated[s.Date, Query()]) -> s.Availability:
    """A venue's local day as intervals: free, booked (a live booking) or held (offered to
    someone on the waitlist), in the venue's own zone, from 00:00 to 24:00."""
    engine = caller.door.service.engine
    venue = queries.venue(engine, venue_id)
    if venue is None:
        raise NotFound("venue", venue_id)
    intervals = [s.Interval.model_validate(i) for i in queries.availability(engine, venue_id, date)]
    return s.Availability(venue_id=venue_id, date=date, tz=venue["tz"], intervals=intervals)
