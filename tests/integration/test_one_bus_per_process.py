"""One process, several doors: `bookit run` serves the link pages and the HTTP API in threads
beside its tick loop or bus worker, all on one `Service`. Its bus runs their commands one at a
time, so two threads never settle the same event at once and nobody is emailed twice."""

from __future__ import annotations

import threading
import time
from collections import Counter
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from bookit import commands as c
from bookit.adapters.mail import OneByOne
from bookit.aggregates.base import SYSTEM
from bookit.bootstrap import bootstrap
from bookit.projections import queries
from conftest import FakeClock


class SlowServer(OneByOne):
    """An SMTP-like outbox that takes a moment per message and counts what it was given."""

    def __init__(self) -> None:
        self.sent: Counter[str] = Counter()
        self._count = threading.Lock()

    def deliver(self, message: EmailMessage) -> None:
        time.sleep(0.05)  # long enough for another thread to reach the same event meanwhile
        with self._count:
            self.sent[str(message["Message-ID"])] += 1


def test_commands_from_many_threads_at_once_email_each_owner_once(tmp_path: Path, clock: FakeClock) -> None:
    server = SlowServer()
    service = bootstrap(tmp_path / "home", clock=clock, outbox=server)
    try:
        venue = service.bus.handle(c.RegisterVenue(actor=SYSTEM, name="Main Hall", tz="Europe/London"))
        users = [f"user{n}@example.com" for n in range(6)]
        failures: list[BaseException] = []
        start = threading.Barrier(len(users))

        def book(n: int, user: str) -> None:
            command: Any = c.BookVenue(
                actor=user,
                venue_id=venue["venue_id"],
                date="2026-12-03",
                start=f"{8 + n:02}:00",
                end=f"{8 + n:02}:30",
            )
            try:
                start.wait()
                service.bus.handle(command)
            except BaseException as error:  # any failure in a thread fails the test below
                failures.append(error)

        threads = [threading.Thread(target=book, args=(n, user)) for n, user in enumerate(users)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)

        assert failures == []
        assert sorted(row["user"] for row in queries.booking_list(service.engine)) == users
        assert sum(server.sent.values()) == len(users), f"emails given to the server: {server.sent}"
        assert set(server.sent.values()) == {1}, "an email went out twice"
        recorded = [row["recipient"] for row in queries.outbox(service.engine)]
        assert sorted(recorded) == users
    finally:
        service.close()
