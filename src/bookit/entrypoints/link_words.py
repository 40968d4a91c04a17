"""What the link pages say: the subject of a link as a person reads it, the words for each
status, what a done or refused action reads like, and the page itself (rendered with a fresh
nonce for its content security policy)."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import jinja2
from starlette.responses import HTMLResponse

from bookit.aggregates import waitlist
from bookit.aggregates.booking import AUTO_CANCELLED, BOOKED, CANCELLED, CONFIRMED, NO_SHOW
from bookit.errors import BadInput, BookitError, NotFound
from bookit.links import Link

STATUS_WORDS = {
    BOOKED: "Booked, waiting for your confirmation",
    CONFIRMED: "Confirmed",
    CANCELLED: "Cancelled",
    AUTO_CANCELLED: "Cancelled automatically (it was not confirmed in time)",
    waitlist.WAITING: "Waiting in the queue",
    waitlist.OFFERED: "Offered to you",
    waitlist.CLAIMED: "Claimed",
    waitlist.DECLINED: "Declined",
    waitlist.EXPIRED: "The offer expired",
    waitlist.LEFT: "You left the waitlist",
    waitlist.CLOSED: "Closed: the slot has started",
    NO_SHOW: "Released: nobody checked in in time",
}
_templates = jinja2.Environment(
    loader=jinja2.FileSystemLoader(Path(__file__).parent / "link_templates"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
)


@dataclass(frozen=True)
class Subject:
    """What a link is about, as a person reads it (venue-local date and times)."""

    owner: str
    venue: str
    tz: str
    date: str
    start: str
    end: str
    status: str
    deadline: datetime | None = None

    @property
    def day(self) -> str:
        day = datetime.strptime(self.date, "%Y-%m-%d")
        return f"{day:%A} {day.day} {day:%B}"

    def local(self, instant: datetime) -> str:
        local = instant.astimezone(ZoneInfo(self.tz))
        return f"{local:%H:%M}" if local.second == 0 else f"{local:%H:%M:%S}"


def done(link: Link, subject: Subject, outcome: dict[str, Any]) -> tuple[str, list[str]]:
    when = f"{subject.day} at {subject.start}"
    if link.action == "confirm":
        return "Confirmed", [f"Confirmed — see you on {when}."]
    if link.action == "cancel":
        return "Cancelled", [f"Cancelled. Your booking at {subject.venue} on {when} is cancelled."]
    if link.action == "check-in":
        return "Checked in", [f"Checked in — enjoy {subject.venue}. Your booking will not be released."]
    if link.action == "claim":
        span = f"{subject.day}, {subject.start}–{subject.end}"
        return "It's yours", [f"It's yours — booked {subject.venue} on {span}."]
    return "Offer declined", ["Declined. The slot goes to the next person in the queue, if there is one."]


def explain(error: BookitError, link: Link | None, subject: Subject | None) -> tuple[int, str, str]:
    """(HTTP status, heading, sentence) for a refusal; unknown codes show the rule's message."""
    code = error.code
    is_offer = link is not None and link.action in ("claim", "decline")
    if code in ("link_expired", "offer_expired") and link is not None and subject is not None:
        if is_offer:
            return 410, "Offer expired", f"Sorry, this offer expired at {subject.local(link.expires_at)}."
        when = f"{subject.day} at {subject.start}"
        return 410, "Link expired", f"This link stopped working when the booking started ({when})."
    known = {
        "link_expired": (410, "Link expired", "Sorry, this link has expired."),
        "offer_expired": (410, "Offer expired", "Sorry, this offer has expired."),
        "bad_link": (400, "This link does not work", BAD_LINK),
        "not_owner": (403, "Not your link", "Only the person this was sent to can use it."),
        "already_cancelled": (409, "Already cancelled", "This booking was already cancelled."),
        "booking_started": (409, "Too late", "This booking has already started, so it can't be changed."),
        "no_offer": (409, "No open offer", no_offer(subject)),
        "slot_taken": (409, "Slot taken", "Sorry, someone else has booked this time."),
        "queue_closed": (409, "Waitlist closed", "The slot has started, so its waitlist is closed."),
        "check_in_not_open": (409, "Too early", "Check-in opens when your booking starts."),
        "check_in_closed": (409, "Too late", "Check-in has closed for this booking."),
        "contention": (503, "Busy", "BookIT is very busy right now. Please try again in a moment."),
    }
    if code in known:
        return known[code]
    if isinstance(error, NotFound):
        return 404, "Not found", "We could not find what this link is about. It may have been removed."
    if isinstance(error, BadInput):
        return 400, "This link does not work", error.message
    return 409, "Not done", f"That could not be done: {error.message}."


def no_offer(subject: Subject | None) -> str:
    why = {
        waitlist.CLAIMED: "you have already claimed it",
        waitlist.DECLINED: "you declined it",
        waitlist.EXPIRED: "it expired and passed to the next person",
        waitlist.LEFT: "you left the waitlist",
        waitlist.CLOSED: "the slot has started",
        waitlist.WAITING: "the slot has not come free for you yet",
    }.get(subject.status if subject else "", "")
    return f"This offer is no longer open: {why}." if why else "This offer is no longer open."


BAD_LINK = (
    "This link is not valid: it may have been altered or cut short. Open it again from your email, "
    "or copy the whole address."
)
NO_PAGE = "There is nothing here. The buttons in BookIT's emails lead to the right page."


def render(template: str, status: int, **context: Any) -> HTMLResponse:
    nonce = secrets.token_urlsafe(16)
    context.setdefault("subject", None)
    html = _templates.get_template(template).render(nonce=nonce, status_words=STATUS_WORDS, **context)
    csp = (
        f"default-src 'none'; script-src 'nonce-{nonce}'; style-src 'unsafe-inline'; "
        "form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
    )
    return HTMLResponse(html, status_code=status, headers={"Content-Security-Policy": csp})
