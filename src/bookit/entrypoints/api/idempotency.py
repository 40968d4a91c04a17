"""Idempotency-Key: a retried POST or DELETE has one effect and gets the first answer again.

The command's `command_id` is derived from (actor, route, key): the same person retrying the
same request names the same command, so the application's receipt answers a success with its
first outcome. A refusal leaves no receipt (nothing was saved), so it is remembered here, in the
read-model database's `refusals` table (the one the bus worker keeps for redelivered messages):
a retry, in this process or another, hears the same refusal and runs nothing. Failures that
decided nothing (store or bus away, contention) are not remembered: a retry tries again.

A key names one request: the first use records what it was for (`idempotency_keys`: a hash of
the route and the fields), and the same key sent with another body or on another route is
refused with 422 `idempotency_key_reused` before anything runs, rather than answered with the
first request's outcome (which a caller would take for the new request's).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any
from uuid import UUID, uuid4

from sqlalchemy import Engine, insert, select
from sqlalchemy.exc import IntegrityError

from bookit.aggregates.base import derived_id
from bookit.entrypoints.api.problems import UNAVAILABLE, ApiError
from bookit.entrypoints.refusal_records import refusal_of
from bookit.errors import BadInput, BookitError, Refused
from bookit.projections.tables import idempotency_keys, refusals

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


def claim_key(
    engine: Engine, actor: str, key: str, operation: str, fields: dict[str, Any], now_iso: str
) -> None:
    """Record what `key` is for on its first use; refuse it for any other request."""
    key_id = str(derived_id("http-key", actor, key))
    request = hashlib.sha256(
        json.dumps([operation, fields], sort_keys=True, default=str).encode()
    ).hexdigest()
    try:
        with engine.begin() as db:
            db.execute(insert(idempotency_keys).values(key_id=key_id, request=request, first_at=now_iso))
        return
    except IntegrityError:
        pass  # used before (or at this moment, by a retry in another thread): compare
    with engine.connect() as db:
        first = db.execute(
            select(idempotency_keys.c.request).where(idempotency_keys.c.key_id == key_id)
        ).scalar_one()
    if first != request:
        raise ApiError(
            422,
            "idempotency_key_reused",
            f"this {HEADER} was already used for another request (another body or route); "
            "nothing was done: send a new key with each new request",
        )
