"""Shared fixtures: a fake clock (bookit.testing's) and a BookIT service on the embedded store
in a temp home."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from bookit import commands as c
from bookit.aggregates.base import SYSTEM
from bookit.bootstrap import Service, bootstrap
from bookit.testing import FakeClock  # the kit's own clock: we use what we ship


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(datetime(2026, 12, 1, 9, 0, tzinfo=UTC))


@pytest.fixture
def service(tmp_path: Path, clock: FakeClock) -> Iterator[Service]:
    svc = bootstrap(tmp_path / "home", clock=clock)
    yield svc
    svc.close()


class Driver:
    """Speaks commands to a service the way the CLI does, for tests that read like the story."""

    def __init__(self, service: Service, clock: FakeClock) -> None:
        self.service = service
        self.clock = clock

    def send(self, cls: type[c.Command], **fields: Any) -> dict[str, Any]:
        return self.service.bus.handle(c.build(cls, **fields))

    def venue(self, name: str = "Main Hall", tz: str = "Europe/London", venue_id: str | None = None) -> str:
        return str(self.send(c.RegisterVenue, actor=SYSTEM, name=name, tz=tz, venue_id=venue_id)["venue_id"])

    def book(self, user: str, venue: str, date: str, start: str, end: str, purpose: str = "") -> str:
        result = self.send(
            c.BookVenue, actor=user, venue_id=venue, date=date, start=start, end=end, purpose=purpose
        )
        return str(result["booking_id"])

    def join(self, user: str, venue: str, date: str, start: str, end: str, **extra: Any) -> str:
        result = self.send(
            c.JoinWaitlist, actor=user, venue_id=venue, date=date, start=start, end=end, **extra
        )
        return str(result["entry_id"])

    def tick(self, **advance: float) -> dict[str, Any]:
        if advance:
            self.clock.advance(**advance)
        return self.service.bus.handle(c.Tick(now=self.clock.now))

    def events(self) -> list[Any]:
        app = self.service.app
        return [
            app.mapper.to_domain_event(n) for n in app.recorder.select_notifications(start=1, limit=10**9)
        ]


@pytest.fixture
def driver(service: Service, clock: FakeClock) -> Driver:
    return Driver(service, clock)
