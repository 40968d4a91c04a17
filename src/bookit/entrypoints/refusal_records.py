"""The `refusals` table read back: how a redelivered (or retried) command that was refused is
answered with its first refusal, without running it again.

The bus worker asks once per batch (`refusals_among`), the HTTP API's idempotency once per
request (`refusal_of`). The first refusal recorded for a command_id is the answer.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import Engine, select

from bookit.projections.tables import refusals

Reply = dict[str, Any]
_CHUNK = 500  # ids per query, far below any driver's parameter limit


def refusal_of(engine: Engine, command_id: str) -> Reply | None:
    """The first refusal recorded for this command_id, as the reply it was given."""
    return refusals_among(engine, [command_id]).get(command_id)


def refusals_among(engine: Engine, command_ids: Iterable[str]) -> dict[str, Reply]:
    """The first refusal recorded for each of these command_ids that has one, in one query
    per few hundred ids."""
    wanted = sorted(set(command_ids))
    found: dict[str, Reply] = {}
    with engine.connect() as db:
        for start in range(0, len(wanted), _CHUNK):
            query = (
                select(refusals.c.command_id, refusals.c.code, refusals.c.error)
                .where(refusals.c.command_id.in_(wanted[start : start + _CHUNK]))
                .order_by(refusals.c.id)
            )
            for row in db.execute(query):
                if row.command_id not in found:  # the first one recorded
                    kind, _, code = str(row.code).partition(":")
                    found[row.command_id] = {"ok": False, "error": row.error, "code": code, "kind": kind}
    return found
