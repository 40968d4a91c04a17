"""Bad input told in the person's terms: the option or field as they gave it, what is wrong with
it, and what to do instead. Every door (the CLI, HTTP, the bus) describes a command that does
not validate through `describe`, so no pydantic or regular-expression text reaches a person.

`names` maps a command's field to what the person typed (`actor` -> `--user` on the CLI, the
token's `sub` over HTTP); a field not named there is shown as itself (a JSON field's name).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from bookit.errors import VENUE_HINT, shown

_ID_KINDS = {
    "booking_id": ("a booking id", "; `bookit bookings --user U` (GET /api/bookings) lists them"),
    "entry_id": (
        "a waitlist entry id",
        "; `bookit waitlist mine --user U` (GET /api/waitlist/mine) lists them",
    ),
}
# Over HTTP the actor is who the token names; every other field is the JSON field or parameter.
HTTP_NAMES = {"actor": "the token's sub (your email address)"}
_UUID_FORM = "1b4e28ba-2fa1-11d2-883f-0016d3cca427"


class FieldError(ValueError):
    """A validator's refusal of one field, in words a person can act on, with the short code the
    contract's `--json` and problem+json carry."""

    def __init__(self, message: str, code: str) -> None:
        super().__init__(message)
        self.code = code


def describe(errors: Sequence[Mapping[str, Any]], names: Mapping[str, str] | None = None) -> str:
    """One sentence per invalid field (at most ten), joined by "; "."""
    parts = [_one(error, names or {}) for error in errors[:10]]
    return "; ".join(parts) or "the request is not valid"


def code_of(errors: Sequence[Mapping[str, Any]], default: str) -> str:
    """The code of the first error a validator named; `default` for the others."""
    for error in errors:
        cause = (error.get("ctx") or {}).get("error")
        if isinstance(cause, FieldError):
            return cause.code
    return default


def _field(loc: Sequence[Any]) -> str:
    names = [str(p) for p in loc if p not in ("body", "query", "path", "header") and not isinstance(p, int)]
    # A union's branches add their type names after the field (`venue_id.str`): keep the field.
    return names[0] if names else ""


def _one(error: Mapping[str, Any], names: Mapping[str, str]) -> str:
    field = _field(error.get("loc", ()))
    label = names.get(field, field) or "the request"
    kind = str(error.get("type", ""))
    ctx = error.get("ctx") or {}
    value = error.get("input")
    cause = ctx.get("error")
    if isinstance(cause, ValueError) and kind == "value_error":
        return f"{label}: {cause}"
    if kind == "missing":
        return f"{label} is required"
    if kind == "extra_forbidden":
        return f"{label} is not something this request takes"
    if kind == "string_pattern_mismatch" and field == "venue_id":
        return f"{label}: {shown(value)} is not a venue id; {VENUE_HINT}"
    if kind == "string_too_short":
        return f"{label} must not be empty"
    if kind == "string_too_long":
        return f"{label} is too long: at most {ctx.get('max_length')} characters"
    if kind.startswith("uuid"):
        what, where = _ID_KINDS.get(field, ("an id", ""))
        return f"{label}: {shown(value)} is not {what} (ids look like {_UUID_FORM}){where}"
    if kind in ("int_parsing", "int_type", "int_from_float"):
        return f"{label} must be a whole number, not {shown(value)}"
    if kind == "greater_than_equal":
        return f"{label} must be at least {ctx.get('ge')}"
    if kind == "less_than_equal":
        return f"{label} must be at most {ctx.get('le')}"
    if kind.startswith(("datetime", "timezone")):
        return (
            f"{label}: {shown(value)} is not an instant; give ISO 8601 with an offset, e.g. 2026-12-01T09:00Z"
        )
    if kind in ("string_type", "str_type"):
        return f"{label} must be text"
    if kind.startswith("bool"):
        return f"{label} must be true or false"
    if kind == "literal_error":
        return f"{label} must be {ctx.get('expected')}"
    if kind.endswith("_type") or kind in ("list_type", "dict_type", "model_type"):
        return f"{label} has the wrong type of value"
    return f"{label}: {shown(value)} is not accepted here"
