"""Wires the adapters in one place: store, read models, outbox, links, clock, bus.

`--store sqlite` (the default) keeps everything in files under BOOKIT_HOME and needs no server;
`--store postgresql://...` puts the event store and the read models in PostgreSQL.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import unquote, urlparse

import sqlalchemy.exc
from eventsourcing.persistence import PersistenceError
from sqlalchemy import Engine

from bookit.adapters.mail import MaildirOutbox, Outbox, SmtpOutbox
from bookit.application import BookIT
from bookit.config import Rules
from bookit.links import LinkSigner
from bookit.messagebus import Clock, MessageBus
from bookit.policies.mail.mailer import Mailer
from bookit.projections.database import make_engine
from bookit.projections.projector import Projector

# What a store that is down, restarting or locked past its timeout raises, from the event store
# or the read models. Nothing half-written remains (each write is one transaction).
STORE_ERRORS = (PersistenceError, sqlalchemy.exc.DBAPIError)

SCHEMA_LOCK_KEY = 0x426F6F6B4954  # "BookIT": any fixed key shared by every BookIT process


def system_clock() -> datetime:
    return datetime.now(UTC)


@dataclass
class Service:
    app: BookIT
    engine: Engine
    projector: Projector
    mailer: Mailer
    bus: MessageBus
    home: Path
    links: LinkSigner

    def close(self) -> None:
        self.engine.dispose()
        self.app.close()


def store_env(home: Path, store: str) -> tuple[dict[str, str], str]:
    """eventsourcing settings and a SQLAlchemy URL for the read models."""
    if store == "sqlite":
        env = {
            "PERSISTENCE_MODULE": "eventsourcing.sqlite",
            "SQLITE_DBNAME": str(home / "events.sqlite"),
            "SQLITE_LOCK_TIMEOUT": "30",
        }
        return env, f"sqlite:///{home / 'readmodels.sqlite'}"
    url = urlparse(store)
    if url.scheme not in ("postgresql", "postgres"):
        raise ValueError(f"unsupported store {store!r}: use 'sqlite' or 'postgresql://...'")
    env = {
        "PERSISTENCE_MODULE": "eventsourcing.postgres",
        "POSTGRES_DBNAME": url.path.lstrip("/") or "postgres",
        "POSTGRES_HOST": url.hostname or "127.0.0.1",
        "POSTGRES_PORT": str(url.port or 5432),
        "POSTGRES_USER": unquote(url.username or "postgres"),
        "POSTGRES_PASSWORD": unquote(url.password or ""),
    }
    return env, "postgresql+psycopg://" + store.split("://", 1)[1]


@contextmanager
def _schema_turn(store: str) -> Iterator[None]:
    """Processes starting at once on one PostgreSQL take turns creating tables and functions:
    eventsourcing's CREATE OR REPLACE statements fail with "tuple concurrently updated" when
    two sessions run them together, which killed a worker at start."""
    if store == "sqlite":
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


def link_secret(home: Path) -> bytes:
    configured = os.environ.get("BOOKIT_SECRET")
    if configured:
        return configured.encode()
    path = home / "link-secret"
    if not path.exists():
        path.write_text(secrets.token_hex(32))
        path.chmod(0o600)
    return path.read_text().strip().encode()


def make_outbox(home: Path) -> Outbox:
    smtp = os.environ.get("BOOKIT_SMTP")
    return SmtpOutbox(smtp) if smtp else MaildirOutbox(home / "outbox")


def bootstrap(
    home: str | Path = ".bookit",
    store: str = "sqlite",
    clock: Clock = system_clock,
    rules: Rules | None = None,
    outbox: Outbox | None = None,
) -> Service:
    home = Path(home)
    home.mkdir(parents=True, exist_ok=True)
    rules = rules or Rules.from_env()
    env, read_url = store_env(home, store)
    with _schema_turn(store):
        app = BookIT(env=env, rules=rules)
        engine = make_engine(read_url)
    projector = Projector(app, engine)
    links = LinkSigner(link_secret(home), os.environ.get("BOOKIT_LINK_BASE", "http://127.0.0.1:8080"))
    mailer = Mailer(
        app,
        engine,
        outbox or make_outbox(home),
        links,
        retry_first=rules.mail_retry_first,
        retry_cap=rules.mail_retry_cap,
    )
    bus = MessageBus(app, projector, mailer, clock)
    return Service(app, engine, projector, mailer, bus, home, links)
