"""Read models that know their version (DESIGN rule 20): no hand step after an upgrade.

The read-model database records the `READ_MODELS_VERSION` its rows were built for. A process of
a newer version that opens it (any command, `bookit run`, a worker) finds the number behind,
rebuilds the read models (only those: `PROJECTED`, from the events; the mailer's records and
the events stay) and records the new number, saying so in one line. It does this in its turn
at start (`stores.schema_turn`: PostgreSQL's advisory lock, a file lock on SQLite), so of
several processes starting at once one rebuilds and the others find it done. A database with
no events yet only records the number.

Emails are not rebuilt (they were sent), but what each event owes changes too
(`MAIL_RULES_VERSION`): the first process of a new version records the mailer's position then,
and `bookit check` judges by today's rules only the emails of the events after it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Engine, delete, insert, select

from bookit.projections.tables import MAIL_RULES_VERSION, READ_MODELS_VERSION, positions, read_models_version

if TYPE_CHECKING:  # a command that only reads imports this, and never the event store
    from eventsourcing.application import Application

NAME = "read_models"
MAIL = "mail_rules"
MAILER = "mail"  # the mail follower's tracked position (policies/mail/mailer.py)


def recorded(conn: Connection, name: str = NAME) -> int | None:
    """The version the read models (or the mail rules) were recorded at; None when none was
    (before versions were kept: the first release)."""
    query = select(read_models_version.c.version).where(read_models_version.c.name == name)
    row = conn.execute(query).first()
    return None if row is None else int(row[0])


def mail_rules_since(conn: Connection) -> int:
    """The position after which today's mail rules decided every email (0: all of them)."""
    query = select(read_models_version.c.since).where(read_models_version.c.name == MAIL)
    row = conn.execute(query).first()
    return int(row[0] or 0) if row is not None else 0


def _note_mail_rules(engine: Engine, now: datetime) -> None:
    """Record where today's mail rules began, if they are new here: the mailer's position now."""
    with engine.begin() as conn:
        if recorded(conn, MAIL) == MAIL_RULES_VERSION:
            return
        since = conn.execute(select(positions.c.position).where(positions.c.name == MAILER)).scalar()
        conn.execute(delete(read_models_version).where(read_models_version.c.name == MAIL))
        values = {"version": MAIL_RULES_VERSION, "at": _iso(now), "since": int(since or 0)}
        conn.execute(insert(read_models_version).values(name=MAIL, **values))


def _iso(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def is_current(engine: Engine) -> bool:
    with engine.connect() as conn:
        return recorded(conn) == READ_MODELS_VERSION


def record(engine: Engine, at: datetime) -> None:
    with engine.begin() as conn:
        conn.execute(delete(read_models_version).where(read_models_version.c.name == NAME))
        conn.execute(insert(read_models_version).values(name=NAME, version=READ_MODELS_VERSION, at=_iso(at)))


def bring_up_to_date(
    app: Application[Any], engine: Engine, now: datetime, say: Callable[[str], None]
) -> int | None:
    """Rebuild the read models if they were built for another version; call it in the process's
    turn (`schema_turn`). Returns how many events the rebuild applied, None when none was needed."""
    with engine.connect() as conn:
        found, mail = recorded(conn), recorded(conn, MAIL)
    if mail != MAIL_RULES_VERSION:
        _note_mail_rules(engine, now)
    if found == READ_MODELS_VERSION:
        return None
    if found is not None and found > READ_MODELS_VERSION:
        say(
            f"bookit: read models are version {found}, newer than this code's "
            f"{READ_MODELS_VERSION}: left as they are (run the newer version)"
        )
        return None
    events = app.recorder.max_notification_id() or 0
    if not events:
        record(engine, now)
        return None
    from bookit.projections.rebuild import rebuild

    began = time.perf_counter()
    applied = rebuild(app, engine)
    record(engine, now)
    was = "had no version (made before versions were kept)" if found is None else f"were version {found}"
    say(
        f"bookit: the read models {was}; rebuilt them for version {READ_MODELS_VERSION} "
        f"from {applied} events in {time.perf_counter() - began:.2f} s"
    )
    return applied
