"""What the link pages say: the subject of a link as a person reads it, the words for each
status, what is true now when the link's action can no longer succeed (`truth`), what a done or
refused action reads like, and the page itself (rendered with a fresh nonce for its content
security policy)."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import jinja2
from starlette.responses import HTMLResponse

from bookit.adapters.mail.wording import duration, zone_label
from bookit.aggregates import waitlist
from bookit.aggregates.booking import AUTO_CANCELLED, BOOKED, CANCELLED, CONFIRMED, LIVE, NO_SHOW
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
_templates.filters["zone"] = zone_label  # Europe/London -> "London time", as the emails say it
_templates.filters["duration"] = duration  # 15 -> "15 minutes"


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
    # What the link pages need to say what is true now (a booking's or an entry's facts).
    starts_at: datetime | None = None
    cancel_due: datetime | None = None
    check_in_until: datetime | None = None
    checked_in: bool = False
    no_strike: bool = False  # released as a no-show too late to count (rule 24)
    position: int | None = None  # in line, for an entry waiting (again)
    taken: bool = False  # back in line: someone offered the same freeing claimed it first

    @property
    def day(self) -> str:
        day = datetime.strptime(self.date, "%Y-%m-%d")
        return f"{day:%A} {day.day} {day:%B}"

    def local(self, instant: datetime) -> str:
        """A clock time on the venue's wall clock, never with seconds (rounded down)."""
        return f"{instant.astimezone(ZoneInfo(self.tz)):%H:%M}"

    def at(self, instant: datetime) -> str:
        local = instant.astimezone(ZoneInfo(self.tz))
        return f"{local:%H:%M} on {local:%A} {local.day} {local:%B}"


def truth(action: str, subject: Subject, now: datetime) -> tuple[str, str] | None:
    """What is true now, as (heading, sentence), when the link's action can no longer succeed;
    None while it still can. A page never invites an action that would be refused."""
    if action in ("claim", "decline"):
        return _entry_truth(subject, now)
    ended = _ended(subject)
    if ended:
        return ended
    started = subject.starts_at is not None and now >= subject.starts_at
    when = f"{subject.day} at {subject.start}"
    if action == "check-in":
        if subject.checked_in:
            return "Checked in", "You checked in: your booking will not be released."
        if subject.check_in_until is not None and now >= subject.check_in_until:
            return "Check-in closed", f"Check-in closed at {subject.local(subject.check_in_until)}."
        if not started:
            return "Too early", f"Check-in opens when your booking starts, {when}."
        return None
    if action == "confirm" and subject.status == CONFIRMED:
        tail = f" It started {when}." if started else f" See you on {when}."
        return "Confirmed", "You have confirmed this booking." + tail
    if started:
        verb = "confirmed" if action == "confirm" else "cancelled"
        return "Too late", f"This booking started {when}, so it can no longer be {verb}."
    return None


def _ended(subject: Subject) -> tuple[str, str] | None:
    """A booking that is over before its time: cancelled, and why."""
    if subject.status == CANCELLED:
        return "Cancelled", "You cancelled this booking."
    if subject.status == AUTO_CANCELLED:
        by = f" by {subject.at(subject.cancel_due)}" if subject.cancel_due else " in time"
        return (
            "Cancelled automatically",
            f"This booking was cancelled automatically: it was not confirmed{by}.",
        )
    if subject.status == NO_SHOW:
        closed = f" by {subject.at(subject.check_in_until)}" if subject.check_in_until else ""
        said = f"This booking was released: nobody checked in{closed}."
        if subject.no_strike:
            said += " It is not counted against you: BookIT was not running when check-in closed."
        return "Released", said
    if subject.status not in LIVE:
        return "Not open", f"This booking is {subject.status.replace('_', ' ')}."
    return None


def _entry_truth(subject: Subject, now: datetime) -> tuple[str, str] | None:
    status, deadline = subject.status, subject.deadline
    if status == waitlist.OFFERED and deadline is not None and now < deadline:
        return None
    at = f" at {subject.local(deadline)}" if deadline else ""
    if status == waitlist.OFFERED:  # past its deadline, before the tick that passes it on
        return "Offer expired", f"Sorry, this offer expired{at}."
    if status == waitlist.EXPIRED:
        return "Offer expired", f"Sorry, this offer expired{at}: it went to the next person in line."
    if status == waitlist.CLAIMED:
        span = f"{subject.day}, {subject.start}–{subject.end}"
        return "You claimed it", f"You claimed this slot: {subject.venue} on {span} is booked in your name."
    if status == waitlist.WAITING and subject.taken:
        place = f" You keep your place in line: number {subject.position}." if subject.position else ""
        return "Someone else claimed it", "Someone else offered the same time claimed it first." + place
    sentence = {
        waitlist.DECLINED: ("Offer declined", "You declined this offer; it went to the next person in line."),
        waitlist.LEFT: ("Not in the queue", "You left the waitlist for this slot."),
        waitlist.CLOSED: ("Waitlist closed", "The slot has started, so its waitlist is closed."),
    }
    return sentence.get(status, ("No open offer", no_offer(subject)))


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


def explain(
    error: BookitError, link: Link | None, subject: Subject | None, now: datetime
) -> tuple[int, str, str]:
    """(HTTP status, heading, sentence) for a refusal: for a genuine link, what is true now of
    what it is about (claimed, cancelled and why, ...); else the refusal in a person's words,
    and for unknown codes the rule's message."""
    code = error.code
    expired = code in ("link_expired", "offer_expired")
    if link is not None and subject is not None:
        said = truth(link.action, subject, now)
        if said is None and expired and link.action in ("claim", "decline"):
            said = "Offer expired", f"Sorry, this offer expired at {subject.local(link.expires_at)}."
        if said is None and expired:
            said = "Link expired", "This link has expired. Your booking is unchanged."
        if said is not None:
            known_status = {"not_owner": 403, "bad_link": 400, "contention": 503}
            return (410 if expired else known_status.get(code, 409), *said)
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
