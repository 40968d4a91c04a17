"""Wires the adapters in one place: store, read models, outbox, links, clock, bus.

It builds the followers (read models, then mail) and the ticker (due work) and hands them to
the one message bus of the process, which knows them only by their protocols. A worker that
leaves following to a followers process (`bookit run --commands-only`) gets a bus whose one
follower waits for that process instead (`followed_elsewhere`), and that process's bus marks
how far it got (`marking_settled`); see settled.py.

`--store sqlite` (the default) keeps everything in files under BOOKIT_HOME and needs no server;
`--store postgresql://...` puts the event store and the read models in PostgreSQL.
"""

from __future__ import annotations

import os
import secrets
import sys
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy.exc
from eventsourcing.persistence import PersistenceError
from sqlalchemy import Engine

from bookit.adapters.mail import MaildirOutbox, Outbox, SmtpOutbox
from bookit.application import BookIT
from bookit.config import Rules
from bookit.links import LinkSigner
from bookit.messagebus import Clock, MessageBus
from bookit.policies.due_work import DueWork
from bookit.policies.mail.mailer import Mailer
from bookit.projections.database import make_engine
from bookit.projections.projector import Projector, ReadModels
from bookit.projections.versioned import bring_up_to_date
from bookit.settled import FollowedElsewhere, SettledMark, SettledMarker
from bookit.stores import schema_turn, store_env

# What a store that is down, restarting or locked past its timeout raises, from the event store
# or the read models. Nothing half-written remains (each write is one transaction).
STORE_ERRORS = (PersistenceError, sqlalchemy.exc.DBAPIError)


def system_clock() -> datetime:
    return datetime.now(UTC)


def tell_operator(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


@dataclass
class Service:
    app: BookIT
    engine: Engine
    projector: Projector
    mailer: Mailer
    bus: MessageBus
    home: Path
    links: LinkSigner
    store: str = "sqlite"  # as given to `bootstrap`, for messages

    def close(self) -> None:
        self.engine.dispose()
        self.app.close()


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
    mailer_class: type[Mailer] = Mailer,
    say: Callable[[str], None] = tell_operator,
) -> Service:
    """`say`: where the one line goes that says the read models were rebuilt after an upgrade."""
    home = Path(home)
    home.mkdir(parents=True, exist_ok=True)
    rules = rules or Rules.from_env()
    links = LinkSigner(
        link_secret(home),
        os.environ.get("BOOKIT_LINK_BASE", "http://127.0.0.1:8080"),
        os.environ.get("BOOKIT_APP_URL", "").strip(),
    )
    env, read_url = store_env(home, store)
    with schema_turn(store, home):
        app = BookIT(env=env, rules=rules)
        engine = make_engine(read_url)
        bring_up_to_date(app, engine, clock(), say)
    projector = Projector(app, engine)
    mailer = mailer_class(
        app,
        engine,
        outbox or make_outbox(home),
        links,
        retry_first=rules.mail_retry_first,
        retry_cap=rules.mail_retry_cap,
    )
    bus = MessageBus(app, [ReadModels(projector), mailer], DueWork(engine), clock)
    return Service(app, engine, projector, mailer, bus, home, links, store)


def followed_elsewhere(service: Service, wait: float) -> Service:
    """The same service, but its bus does not run the followers: settling waits (at most `wait`
    seconds) for a followers process's settled mark to pass the last stored event."""
    follower = FollowedElsewhere(service.app, SettledMark(service.engine, wait))
    bus = MessageBus(service.app, [follower], DueWork(service.engine), service.bus.clock)
    return replace(service, bus=bus)


def marking_settled(service: Service) -> Service:
    """The same service, whose bus also marks how far its followers got, at every round of a
    settle, for the workers of `followed_elsewhere` (`bookit run --followers-only`)."""
    followers = service.bus.followers
    marker = SettledMarker(service.engine, followers)
    bus = MessageBus(service.app, [marker, *followers], service.bus.ticker, service.bus.clock)
    return replace(service, bus=bus)
