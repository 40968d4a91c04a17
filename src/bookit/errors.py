"""The two ways a command can be turned down, as the contract's exit codes see them.

`Refused` (exit 1) means a domain rule said no; `BadInput` (exit 2) means the command could not
be understood or names something that does not exist. Both carry a short machine-readable code
and a message a person can act on. Neither ever leaves anything written in the store.
`StoreUnavailable` (exit 1) is not a decision at all: the store could not be reached or stayed
locked, and the caller should look before trying again.
"""

from __future__ import annotations

import reprlib

# Messages quote what the person sent, so they can see the typo; a megabyte sent on purpose
# must not come back as a megabyte of error (on stderr, in a reply, in the refusals table).
_quote = reprlib.Repr()
_quote.maxstring = _quote.maxother = 60


def shown(value: object) -> str:
    """`value` as a message quotes it: repr, cut short in the middle when long."""
    return _quote.repr(value)


def first_line(error: BaseException) -> str:
    """What a one-line message may say of an exception from a library (drivers write pages)."""
    return (str(error).strip().splitlines() or [type(error).__name__])[0][:200]


class BookitError(Exception):
    exit_code = 1

    def __init__(self, message: str, code: str) -> None:
        super().__init__(message)
        self.message = message
        self.code = code

    def as_dict(self) -> dict[str, str]:
        return {"error": self.message, "code": self.code}


class Refused(BookitError):
    """A domain rule refused the command (exit code 1)."""

    exit_code = 1


class BadInput(BookitError):
    """Malformed input or an unknown id (exit code 2)."""

    exit_code = 2


VENUE_HINT = "use the venue's id, e.g. main-hall (`bookit venue list`, GET /api/venues)"
# What to do after an unknown id, where a person can look the right one up.
_LOOK_UP = {
    "venue": VENUE_HINT,
    "booking": "`bookit bookings --user U` (GET /api/bookings) lists the ids",
    "waitlist entry": "`bookit waitlist mine --user U` (GET /api/waitlist/mine) lists the ids",
}


class NotFound(BadInput):
    def __init__(self, what: str, ident: object) -> None:
        text = str(ident)
        quoted = text if len(text) <= 60 else shown(text)
        hint = f"; {_LOOK_UP[what]}" if what in _LOOK_UP else ""
        super().__init__(f"unknown {what}: {quoted}{hint}", f"unknown_{what.replace(' ', '_')}")


class StoreUnavailable(BookitError):
    """The event store or the read models could not be used (exit code 1)."""

    exit_code = 1

    def __init__(self, why: BaseException) -> None:
        super().__init__(
            f"the store is unavailable ({first_line(why)}); the command may not have been carried out: "
            "check with `bookit show` or `bookit bookings` before trying again",
            "store_unavailable",
        )
