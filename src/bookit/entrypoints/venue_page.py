"""The public venue page, `GET /venues/<id>?date=YYYY-MM-DD`: where the emails' "Book again"
button leads when no app stands in front of BookIT (`BOOKIT_APP_URL` unset).

It shows the asked day (today on the venue's wall clock, without `date`) and the days after it,
each as free, booked and held intervals: the same query as the HTTP API's availability route
(`queries.availability`), read from the read models, never the aggregates. It names nobody:
only times and states. A page for people, at a phone's width like the link pages.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from starlette.responses import Response

from bookit.adapters.mail.wording import zone_label
from bookit.commands import LAST_YEAR
from bookit.entrypoints.link_words import render
from bookit.errors import BadInput, shown
from bookit.localtime import parse_date
from bookit.projections import queries

DAYS = 7  # the asked day and the six after it
STATE_WORDS = {"free": "Free", "booked": "Booked", "held": "Held for someone on the waitlist"}


def venue_page(engine: Any, clock: Callable[[], datetime], venue_id: str, asked: str | None) -> Response:
    venue = queries.venue(engine, venue_id)
    if venue is None:
        return render("result.html.j2", 404, tone="error", heading="No such venue", lines=[_NO_VENUE])
    tz = str(venue["tz"])
    try:
        first = _first_day(asked, clock(), tz)
    except BadInput as error:
        return render("result.html.j2", 400, tone="error", heading="Not a date", lines=[error.message])
    days = []
    for offset in range(DAYS):
        day = first + timedelta(days=offset)
        text = day.isoformat()
        days.append(
            {
                "date": text,
                "label": f"{day:%A} {day.day} {day:%B %Y}",
                "intervals": queries.availability(engine, venue_id, text),
            }
        )
    return render(
        "venue.html.j2",
        200,
        venue=venue,
        zone=zone_label(tz),
        days=days,
        words=STATE_WORDS,
        earlier=(first - timedelta(days=DAYS)).isoformat(),
        later=(first + timedelta(days=DAYS)).isoformat(),
    )


def _first_day(asked: str | None, now: datetime, tz: str) -> date:
    if not asked:
        return now.astimezone(ZoneInfo(tz)).date()
    day = parse_date(asked)
    if not 1 < day.year < LAST_YEAR:
        raise BadInput(f"date {shown(asked)} is out of range", "bad_date")
    return day


_NO_VENUE = "We do not know this venue. The buttons in BookIT's emails lead to the right page."
