"""Turn a notification (kind + context) into a ready-to-send multipart email.

Rendering is pure: the caller supplies the Message-ID and the send time, so the same event
always yields the same email and nothing here reads the clock.
"""

from __future__ import annotations

import email.utils
import functools
import re
from collections.abc import Mapping
from datetime import datetime
from email.headerregistry import BaseHeader, HeaderRegistry
from email.message import EmailMessage
from email.policy import default as default_policy

import jinja2

from bookit.adapters import calendar as ical
from bookit.adapters.mail import wire
from bookit.adapters.mail.plain import Line, compile_line
from bookit.adapters.mail.wording import LEADS, duration, zone_label

KINDS = (
    "booking-confirmed",
    "confirmation-received",
    "confirmation-waived",
    "reminder",
    "auto-cancelled",
    "waitlist-offer",
    "waitlist-claimed",
    "waitlist-expired",
    "waitlist-closed",
    "waitlist-taken",
    "check-in",
    "no-show",
    "suspended",
    "booking-cancelled",
)

_ENTRY_KINDS = frozenset({"waitlist-offer", "waitlist-expired", "waitlist-closed", "waitlist-taken"})

# Subjects are jinja templates rendered by the StrictUndefined text environment so a missing
# key fails the same loud way as in the bodies.
_SUBJECTS = {
    "booking-confirmed": "Booked: {{ venue_name }} on {{ date }}",
    "confirmation-received": "Booking confirmed: {{ venue_name }} on {{ date }}",
    "confirmation-waived": "No confirmation needed: {{ venue_name }} on {{ date }}",
    "reminder": "Reminder: your booking at {{ venue_name }} on {{ date }}",
    "auto-cancelled": "Booking auto-cancelled: {{ venue_name }}",
    "waitlist-offer": "A slot is free for you: {{ venue_name }}",
    "waitlist-claimed": "You got the slot: {{ venue_name }} on {{ date }}",
    "waitlist-expired": "Your waitlist offer expired: {{ venue_name }}",
    "waitlist-closed": "Waitlist closed: {{ venue_name }} on {{ date }}",
    "waitlist-taken": "Someone else claimed the slot first: {{ venue_name }}",
    "check-in": "Check in now: {{ venue_name }}, {{ start }}",
    "no-show": "Booking released (no check-in): {{ venue_name }} on {{ date }}",
    "suspended": "New bookings suspended at {{ venue_name }} until {{ until }}",
    "booking-cancelled": "Booking cancelled: {{ venue_name }} on {{ date }}",
}

# Everything Python's str.splitlines() treats as a line break is in here, not just CR/LF: the
# email parser splits on those too, so any of them could smuggle in a header.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_LINE_BREAK = re.compile("[\r\n\x0b\x0c\x1c-\x1e\x85\u2028\u2029]")

DEFAULT_SENDER = ical.SENDER


class _HeaderClasses(HeaderRegistry):
    """The standard registry, keeping the class it makes for each header name: the stdlib makes
    a new class (with `type(...)`) for every header of every message, a good part of the cost
    of composing one."""

    def __init__(self) -> None:
        super().__init__()
        self._made: dict[str, type[BaseHeader]] = {}

    def __getitem__(self, name: str) -> type[BaseHeader]:
        key = name.lower()
        made = self._made.get(key)
        if made is None:
            made = self._made[key] = super().__getitem__(name)
        return made


# The default policy in every other respect, so messages come out byte for byte the same.
_POLICY = default_policy.clone(header_factory=_HeaderClasses())


def compose_email(
    kind: str,
    *,
    to: str,
    message_id: str,
    sent_at: datetime,
    subject_id: str,
    context: Mapping[str, object],
    sender: str = DEFAULT_SENDER,
    to_name: str = "",
    calendar: ical.BookingTime | None = None,
) -> EmailMessage:
    """Render `kind` for `to` (shown as `to_name` when given). With `calendar`, the email also
    carries the booking as an iCalendar part: an invitation, or its cancellation. Raises
    ValueError for bad arguments, jinja2.UndefinedError for a context key the templates need but
    were not given."""
    if kind not in _SUBJECTS:
        raise ValueError(f"unknown email kind {kind!r}; expected one of {', '.join(KINDS)}")
    # A recipient is an address, not free text: refuse rather than silently rewrite it.
    if _LINE_BREAK.search(to):
        raise ValueError("email recipient must not contain line breaks")
    if _CONTROL.search(message_id):
        raise ValueError("Message-ID must not contain control characters")
    if sent_at.tzinfo is None or sent_at.utcoffset() is None:
        raise ValueError("sent_at must be timezone-aware")

    text_env, html_env, subjects, leads = _environments()
    values = dict(context)
    # The two lines every email opens with, in text and HTML alike: why it came, what to do.
    values["why"], values["next_step"] = (line.render(values) for line in leads[kind])

    headers: list[wire.Header] = [
        ("From", header_safe(sender)),
        ("To", wire.named_address(_POLICY, "To", header_safe(to_name), to) if to_name else to),
        ("Subject", header_safe(subjects[kind].render(values))),
        ("Date", _date(sent_at, sent_at.utcoffset())),
        ("Message-ID", message_id),
        ("X-BookIT-Kind", kind),
        # RFC 3834: sent by a machine, so autoresponders (out of office, ...) stay quiet.
        ("Auto-Submitted", "auto-generated"),
    ]
    if kind in _ENTRY_KINDS:
        headers.append(("X-BookIT-Entry", header_safe(subject_id)))
    else:
        headers.append(("X-BookIT-Booking", header_safe(subject_id)))
        # A claim is about both the new booking and the waitlist entry it came from.
        entry_id = values.get("entry_id")
        if kind == "waitlist-claimed" and entry_id:
            headers.append(("X-BookIT-Entry", header_safe(str(entry_id))))
    parts: list[wire.Part] = [
        ("plain", text_env.get_template(f"{kind}.txt.j2").render(values), ()),
        ("html", html_env.get_template(f"{kind}.html.j2").render(values), ()),
    ]
    if calendar is not None:
        # The iMIP way (RFC 6047): the same news once more, for calendars, as the last alternative.
        method = (("method", ical.method_of(calendar)),)
        parts.append(("calendar", ical.invitation(calendar, sender), method))
    return wire.composed(_POLICY, headers, parts, lambda: _built(headers, parts))


def _built(headers: list[wire.Header], parts: list[wire.Part]) -> EmailMessage:
    """The message the stdlib way: headers in order, the first part as the content, the others
    as alternatives after it."""
    message = EmailMessage(policy=_POLICY)
    for name, value in headers:
        message[name] = value
    (_, first, _), *others = parts
    message.set_content(first)
    for subtype, body, params in others:
        message.add_alternative(body, subtype=subtype, params=dict(params) or None)
    return message


@functools.lru_cache(maxsize=64)  # a batch's emails are all sent at its `now`
def _date(sent_at: datetime, offset: object) -> str:
    # Keyed by the offset too: 12:00 UTC and 13:00+01:00 are equal datetimes, written apart.
    return email.utils.format_datetime(sent_at)


def header_safe(value: str) -> str:
    """Turn control characters into spaces so user text stays on one header line."""
    return " ".join(_CONTROL.sub(" ", value).split())


_Leads = dict[str, tuple[Line, Line]]


@functools.cache
def _environments() -> tuple[jinja2.Environment, jinja2.Environment, dict[str, Line], _Leads]:
    # Built once per process: loading and compiling templates is the expensive part.
    loader = jinja2.PackageLoader("bookit.adapters.mail", "templates")
    text_env = _environment(loader, autoescape=False)
    html_env = _environment(loader, autoescape=True)
    # The one-line templates that only put values in skip jinja's per-render context (plain.py).
    subjects = {kind: compile_line(text_env, source) for kind, source in _SUBJECTS.items()}
    leads = {
        kind: (compile_line(text_env, why), compile_line(text_env, then))
        for kind, (why, then) in LEADS.items()
    }
    return text_env, html_env, subjects, leads


def compile_templates() -> None:
    """Compile every kind's templates now (about 70 ms here), so that a long-running service's
    first batch of emails does not pay for it; a one-off command compiles only what it sends."""
    text_env, html_env, _, _ = _environments()
    for name in text_env.list_templates():  # the kinds' and the base templates they extend
        (html_env if name.endswith(".html.j2") else text_env).get_template(name)


def _environment(loader: jinja2.BaseLoader, *, autoescape: bool) -> jinja2.Environment:
    environment = jinja2.Environment(
        loader=loader,
        autoescape=autoescape,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        # Compiled once and kept: without this every email would stat each template file
        # to see whether it changed on disk.
        auto_reload=False,
    )
    environment.filters["zone"] = zone_label  # Europe/London -> "London time"
    environment.filters["duration"] = duration  # 480 -> "8 hours"
    return environment
