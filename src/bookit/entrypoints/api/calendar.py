"""`GET /api/calendar.ics`: the caller's live bookings as one iCalendar feed, the same feed
`bookit calendar --user` prints (same UIDs as the invitations the emails carry)."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.responses import Response

from bookit.calendar_feed import user_feed
from bookit.entrypoints.api.deps import ALWAYS, CallerDep

router = APIRouter(prefix="/api", tags=["calendar"])


@router.get(
    "/calendar.ics",
    responses=ALWAYS | {200: {"content": {"text/calendar": {}}, "description": "one VCALENDAR"}},
    response_class=Response,
)
def calendar(caller: CallerDep) -> Response:
    """Your booked and confirmed bookings, to import or subscribe to (RFC 5545)."""
    feed = user_feed(caller.door.service.engine, caller.actor)
    return Response(
        feed,
        media_type="text/calendar; charset=utf-8",
        headers={
            "Content-Disposition": 'inline; filename="bookit.ics"',
            "Cache-Control": "private, no-store",
        },
    )
