"""Bookings: book, list, show, confirm, cancel, override, history. A user sees and acts on their
own; an admin sees all. Who may confirm, cancel or override is decided by the domain, exactly as
for the CLI; who may read is decided here, from the read model's owner and BookIT's roster."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Query

from bookit import audit
from bookit import commands as c
from bookit.entrypoints.api import schemas as s
from bookit.entrypoints.api.deps import ALWAYS, WITH_BODY, Caller, CallerDep, IdempotencyKey
from bookit.entrypoints.api.pages import PageDep, numbered, step_key
from bookit.entrypoints.api.problems import documented, links
from bookit.errors import NotFound, Refused
from bookit.projections import queries

router = APIRouter(prefix="/api/bookings", tags=["bookings"])
ACTED = WITH_BODY | documented(403, 404, 409)


@router.post(
    "",
    status_code=201,
    responses=WITH_BODY | documented(404, 409),
    openapi_extra=links(
        201,
        "booking_id",
        show="show_booking",
        confirm="confirm_booking",
        cancel="cancel_booking",
        override="override_booking",
        history="booking_history",
    ),
)
def book(body: s.NewBooking, caller: CallerDep, key: IdempotencyKey = None) -> s.BookingOutcome:
    """Book a slot for yourself. 409 `slot_taken` / `slot_held` when it is not free."""
    outcome = caller.door.run(c.BookVenue, caller.actor, "booking.book", key, **body.model_dump())
    return s.BookingOutcome(**outcome)


EVERYONE = "*"


@router.get("", responses=ALWAYS | documented(403))
def list_bookings(
    caller: CallerDep,
    page: PageDep,
    venue_id: str | None = None,
    date: Annotated[s.Date | None, Query()] = None,
    user: Annotated[
        str | None,
        Query(
            description="whose bookings: yours without it (an admin's too); an admin may give "
            "someone's email address, or `*` for everyone's"
        ),
    ] = None,
) -> list[s.Booking]:
    """Your own bookings, a page at a time; an admin adds `?user=EMAIL` for someone else's or
    `?user=*` for everyone's."""
    whose = caller.actor if user is None else user.strip().lower()
    if whose != caller.actor and not caller.admin:
        raise Refused("only an admin may list someone else's bookings (`?user=`)", "not_admin")
    rows = queries.booking_list(
        caller.door.service.engine,
        user=None if whose == EVERYONE else whose,
        venue_id=venue_id,
        date=date,
        after=page.after,
        limit=page.limit + 1,
    )
    return [s.Booking(**row) for row in page.finish(rows, queries.booking_key)]


@router.get("/{booking_id}", operation_id="show_booking", responses=ALWAYS | documented(403, 404))
def show(booking_id: UUID, caller: CallerDep) -> s.Booking:
    return s.Booking(**_visible(caller, booking_id))


@router.post("/{booking_id}/confirm", operation_id="confirm_booking", responses=ACTED)
def confirm(booking_id: UUID, caller: CallerDep, key: IdempotencyKey = None) -> s.BookingOutcome:
    """Confirm your booking (owner only)."""
    return _act(caller, c.ConfirmBooking, "booking.confirm", key, booking_id)


@router.post("/{booking_id}/cancel", operation_id="cancel_booking", responses=ACTED)
def cancel(
    booking_id: UUID, caller: CallerDep, body: s.Cancellation | None = None, key: IdempotencyKey = None
) -> s.BookingOutcome:
    """Cancel your booking (owner only); freed time goes to its waitlist first."""
    reason = body.reason if body is not None else ""
    return _act(caller, c.CancelBooking, "booking.cancel", key, booking_id, reason=reason)


@router.post("/{booking_id}/override", operation_id="override_booking", responses=ACTED)
def override(booking_id: UUID, caller: CallerDep, key: IdempotencyKey = None) -> s.BookingOutcome:
    """Waive a booking's auto-cancellation (admins only)."""
    return _act(caller, c.WaiveAutoCancel, "booking.override", key, booking_id)


@router.get("/{booking_id}/history", operation_id="booking_history", responses=ALWAYS | documented(403, 404))
def history(booking_id: UUID, caller: CallerDep, page: PageDep) -> list[s.HistoryEvent]:
    """Every event of the booking in store order: what, when, by whom, by which command, and
    the emails each one owed (sent or refused), as `bookit history ID --emails`."""
    _visible(caller, booking_id)
    found = audit.history(caller.door.service, str(booking_id), emails=True)
    return [s.HistoryEvent(**step) for _, step in page.of(numbered(found.steps), step_key)]


def _act(
    caller: Caller, cls: type[c.Command], operation: str, key: str | None, booking_id: UUID, **fields: Any
) -> s.BookingOutcome:
    outcome = caller.door.run(cls, caller.actor, operation, key, booking_id=booking_id, **fields)
    return s.BookingOutcome(booking_id=outcome["booking_id"], status=outcome["status"])


def _visible(caller: Caller, booking_id: UUID) -> dict[str, Any]:
    row = queries.booking(caller.door.service.engine, str(booking_id))
    if row is None:
        raise NotFound("booking", booking_id)
    caller.may_see(row["user"], "booking")
    return row
