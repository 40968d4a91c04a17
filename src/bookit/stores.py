"""Where the event store and the read models live, from a `--store` value.

Kept apart from `bootstrap` and light to import: a command that only reads the read models
(`bookit venue list`) finds its database here without loading the event store's application,
the mailer or the bus.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import unquote, urlparse

# Every event stored carries the trace context of the command that stored it.
MAPPER_TOPIC = "bookit.observability.tracing:TracingMapper"
SCHEMA_LOCK_KEY = 0x426F6F6B4954  # "BookIT": any fixed key shared by every BookIT process


SQLITE_LOCK_TIMEOUT = 30.0  # seconds a command waits for a busy embedded store before failing


def store_env(home: Path, store: str) -> tuple[dict[str, str], str]:
    """eventsourcing settings and a SQLAlchemy URL for the read models."""
    if store == "sqlite":
        env = {
            "MAPPER_TOPIC": MAPPER_TOPIC,
            "PERSISTENCE_MODULE": "eventsourcing.sqlite",
            "SQLITE_DBNAME": str(home / "events.sqlite"),
            "SQLITE_LOCK_TIMEOUT": f"{sqlite_lock_timeout():g}",
        }
        return env, f"sqlite:///{home / 'readmodels.sqlite'}"
    url = urlparse(store)
    if url.scheme not in ("postgresql", "postgres"):
        raise ValueError(f"unsupported store {store!r}: use 'sqlite' or 'postgresql://...'")
    env = {
        "MAPPER_TOPIC": MAPPER_TOPIC,
        "PERSISTENCE_MODULE": "eventsourcing.postgres",
        "POSTGRES_DBNAME": url.path.lstrip("/") or "postgres",
        "POSTGRES_HOST": url.hostname or "127.0.0.1",
        "POSTGRES_PORT": str(url.port or 5432),
        "POSTGRES_USER": unquote(url.username or "postgres"),
        "POSTGRES_PASSWORD": unquote(url.password or ""),
    }
    return env, "postgresql+psycopg://" + store.split("://", 1)[1]


@contextmanager
def schema_turn(store: str, home: Path | None = None) -> Iterator[None]:
    """Processes starting at once on one PostgreSQL take turns creating tables and functions:
    eventsourcing's CREATE OR REPLACE statements fail with "tuple concurrently updated" when
    two sessions run them together, which killed a worker at start. It is also the turn in
    which a process rebuilds read models built for another version (projections/versioned.py),
    so that only one does: on SQLite that needs a lock of its own, a file beside the store."""
    if store == "sqlite":
        if home is None:
            yield
            return
        import fcntl

        with open(home / "schema.lock", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file is closed
            yield
        return
    import psycopg
    from eventsourcing.persistence import OperationalError

    try:
        conn = psycopg.connect(store, autocommit=True)
        conn.execute("SELECT pg_advisory_lock(%s)", (SCHEMA_LOCK_KEY,))
    except psycopg.OperationalError as error:
        # Said the way the event store says it, so callers handle one kind of "store is down".
        raise OperationalError(str(error)) from error
    with conn:
        yield  # the lock ends with the session


def sqlite_lock_timeout() -> float:
    """How long a command waits for a busy events.sqlite: `BOOKIT_SQLITE_LOCK_TIMEOUT` seconds,
    else 30."""
    text = os.environ.get("BOOKIT_SQLITE_LOCK_TIMEOUT", "").strip()
    if not text:
        return SQLITE_LOCK_TIMEOUT
    try:
        seconds = float(text)
    except ValueError:
        seconds = -1.0
    if not 0 < seconds <= 3600:
        raise ValueError(f"BOOKIT_SQLITE_LOCK_TIMEOUT={text!r}: give seconds, more than 0 and at most 3600")
    return seconds
