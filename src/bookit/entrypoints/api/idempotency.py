"""Idempotency-Key: a retried POST or DELETE has one effect and gets the first answer again.

The command's `command_id` is derived from (actor, route, key): the same person retrying the
same request names the same command, so the application's receipt answers a success with its
first outcome. A refusal leaves no receipt (nothing was saved), so it is remembered here, in the
read-model database's `refusals` table (the one the bus worker keeps for redelivered messages):
a retry, in this process or another, hears the same refusal and runs nothing. Failures that
decided nothing (store or bus away, contention) are not remembered: a retry tries again.
"""

from __future__ import annotations

from uuid import UUID, uuid4

from sqlalchemy import Engine, insert

from bookit.aggregates.base import derived_id
from bookit.entrypoints.api.problems import UNAVAILABLE, ApiError
from bookit.entrypoints.refusal_records import refusal_of
from bookit.errors import BadInput, BookitError, Refused
from bookit.projections.tables import refusals

MAX_KEY = 200
HEADER = "Idempotency-Key"


def command_id(actor: str, operation: str, key: str | None) -> UUID:
    """A fresh id without a key; with one, the same id for the same (actor, operation, key)."""
    if key is None:
        return uuid4()
    if not key or len(key) > MAX_KEY:
        raise ApiError(422, "bad_idempotency_key", f"{HEADER} must be 1 to {MAX_KEY} characters")
    return derived_id("http", actor, operation, key)


def earlier_refusal(engine: Engine, cid: UUID) -> BookitError | None:
    reply = refusal_of(engine, str(cid))
    if reply is None:
        return None
    cls = BadInput if reply["kind"] == "bad_input" else Refused
    return cls(str(reply["error"]), str(reply["code"]))


def remember_refusal(engine: Engine, cid: UUID, error: BookitError, now_iso: str, what: str) -> None:
    if error.code in UNAVAILABLE:
        return
    kind = "bad_input" if isinstance(error, BadInput) else "refused"
    with engine.begin() as db:
        db.execute(
            insert(refusals).values(
                command_id=str(cid),
                received_at=now_iso,
                code=f"{kind}:{error.code}"[:64],
                error=error.message,
                body=what[:1000],
            )
        )
