"""What each email says first: the two lines that open it.

Every email opens with why it was sent, then what to do next, in the plain text and in the
HTML alike (the same two sentences), so an inbox preview, a phone's notification or a quick
glance is enough. The details and links come after. Each line is a jinja template rendered with
the email's context, like the bodies, so a missing key fails just as loudly.

Times are the venue's wall clock, as people say them ("14:00–16:00", "by 09:15 on Tuesday 1
December"), never with seconds, and the zone is named once, in the "When" line of the details
(`zone_label`). A field with nothing in it (a booking without a purpose) is not printed.
"""

from __future__ import annotations

# (why it was sent, what to do next)
LEADS = {
    "booking-confirmed": (
        "You booked {{ venue_name }} for {{ date }}, {{ start }}–{{ end }}.",
        "{{ reminder_note }}",
    ),
    "confirmation-received": (
        "Your booking at {{ venue_name }} on {{ date }}, {{ start }}–{{ end }} is confirmed.",
        "There is nothing more to do; if your plans change, please cancel it so someone else can"
        " use the venue.",
    ),
    "confirmation-waived": (
        "Your booking at {{ venue_name }} on {{ date }}, {{ start }}–{{ end }} needs no confirmation"
        " any more: an admin waived it.",
        "There is nothing to do; it will not be cancelled automatically.",
    ),
    "reminder": (
        "Your booking at {{ venue_name }} is coming up: {{ date }}, {{ start }}–{{ end }}.",
        "{{ 'It is confirmed, so there is nothing to do; if your plans changed, please cancel it.'"
        " if confirmed else 'Please confirm it by ' ~ confirm_by ~ ', or it will be cancelled.' }}",
    ),
    "auto-cancelled": (
        "Your booking at {{ venue_name }} on {{ date }} was cancelled: it was not confirmed in time.",
        "If you still need the venue, check whether it is free and book again.",
    ),
    "waitlist-offer": (
        "A slot you are waiting for is free: {{ venue_name }}, {{ date }}, {{ start }}–{{ end }}.",
        "Claim it by {{ deadline }} ({{ minutes | duration }} left),"
        " or it goes to the next person in the queue.",
    ),
    "waitlist-claimed": (
        "You claimed {{ venue_name }} for {{ date }}, {{ start }}–{{ end }}: it is booked and confirmed.",
        "There is nothing more to do; add it to your calendar if you like.",
    ),
    "waitlist-expired": (
        "Your offer for {{ venue_name }} on {{ date }} ran out at {{ deadline }}.",
        "It has gone to the next person in the queue; if you still need a venue, look for another slot.",
    ),
    "waitlist-closed": (
        "The waitlist for {{ venue_name }} on {{ date }}, {{ start }}–{{ end }} has closed: the slot has"
        " started.",
        "No place came free for you this time; there is nothing you need to do.",
    ),
    "booking-cancelled": (
        "Your booking at {{ venue_name }} on {{ date }} is cancelled, as you asked.",
        "There is nothing more to do; if you need the venue after all, book it again.",
    ),
    "check-in": (
        "Your booking at {{ venue_name }} starts now: {{ date }}, {{ start }}–{{ end }}.",
        "Please check in when you arrive, by {{ check_in_until }}, or it will be released.",
    ),
    "no-show": (
        "Your booking at {{ venue_name }} on {{ date }} was released: nobody checked in by"
        " {{ check_in_until }}.",
        "{{ 'There is nothing to do now, and it is not counted against you: ' ~ no_strike ~ '.' if no_strike"
        " else 'There is nothing to do now; it counts as a no-show at this venue.' }}",
    ),
    "suspended": (
        "New bookings at {{ venue_name }} are suspended for you until {{ until }}.",
        "You can book there again after that, or sooner if an admin clears your strikes.",
    ),
    "waitlist-taken": (
        "Someone else claimed {{ venue_name }} on {{ date }}, {{ start }}–{{ end }} first.",
        "There is nothing you need to do: you keep your place, you are number {{ position }} in line.",
    ),
}


def duration(minutes: int) -> str:
    """A span as people say it: "15 minutes", "1 minute", "8 hours", "2 hours 30 minutes"."""
    hours, rest = divmod(int(minutes), 60)
    said = [f"{n} {unit}{'' if n == 1 else 's'}" for n, unit in ((hours, "hour"), (rest, "minute")) if n]
    return " ".join(said) or "0 minutes"


def zone_label(tz: str) -> str:
    """How people name a zone: "London time" for Europe/London, "New York time"; UTC as itself."""
    if tz.upper() in ("UTC", "ETC/UTC", "GMT", "ETC/GMT", "UNIVERSAL", "ZULU"):
        return "UTC"
    place = tz.rsplit("/", 1)[-1]
    if not place.replace("_", "").isalpha():
        return tz  # Etc/GMT+5 and the like: the zone's own name says it best
    return f"{place.replace('_', ' ')} time"
