"""Readiness (DESIGN rule 21): what a process needs, checked; liveness checks nothing else.

A process is ready when
- `store`: the event store and the read models answer;
- `broker` (with a bus URL): the broker takes a connection;
- `follower:NAME`, for each follower of the store: it is within `BOOKIT_READY_MAX_LAG` (100)
  events of the store, or it is still moving: its position changed within the last
  `BOOKIT_READY_STALL_SECONDS` (10) seconds. A follower first seen far behind counts as
  moving until it has been seen standing still that long.

`bookit status` and `/readyz` ask the same `Readiness`; `/metrics` reads the same figures.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bookit.errors import first_line
from bookit.observability import figures as store_figures
from bookit.observability.figures import Figures

MAX_LAG = 100
STALL_SECONDS = 10.0
BROKER_TIMEOUT = 2.0
BROKER_CACHE_SECONDS = 1.0


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str


@dataclass
class Report:
    checks: list[Check]
    figures: Figures | None = None

    @property
    def ready(self) -> bool:
        return all(check.ok for check in self.checks)

    @property
    def failing(self) -> list[Check]:
        return [check for check in self.checks if not check.ok]

    def as_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "ready": self.ready,
            "checks": [{"name": c.name, "ok": c.ok, "detail": c.detail} for c in self.checks],
        }
        if self.figures is not None:
            body |= self.figures.as_json()
        return body


def _env_number(name: str, default: float) -> float:
    text = os.environ.get(name, "").strip()
    try:
        value = float(text) if text else default
    except ValueError:
        raise ValueError(f"{name}={text!r}: give a number") from None
    if value < 0:
        raise ValueError(f"{name}={text!r}: give a number of at least 0")
    return value


@dataclass
class _Seen:
    position: int
    since: float


@dataclass
class Readiness:
    service: Any
    bus_url: str = "local"
    max_lag: int = field(default_factory=lambda: int(_env_number("BOOKIT_READY_MAX_LAG", MAX_LAG)))
    stall_seconds: float = field(
        default_factory=lambda: _env_number("BOOKIT_READY_STALL_SECONDS", STALL_SECONDS)
    )
    monotonic: Callable[[], float] = time.monotonic

    def __post_init__(self) -> None:
        self._seen: dict[str, _Seen] = {}
        self._lock = threading.Lock()
        self._broker: tuple[float, Check] | None = None

    def check(self) -> Report:
        checks: list[Check] = []
        found: Figures | None = None
        try:
            found = store_figures.read(self.service, self.bus_url, self.service.bus.clock())
            checks.append(Check("store", True, f"answers; {found.last_event} events stored"))
        except Exception as error:
            checks.append(Check("store", False, f"the store does not answer: {first_line(error)[:200]}"))
        if self.bus_url != "local":
            checks.append(self._broker_check())
        if found is not None:
            checks += [self._follower(name, found) for name in found.positions]
        return Report(checks, found)

    def _follower(self, name: str, found: Figures) -> Check:
        position, lag, now = found.positions[name], found.lag[name], self.monotonic()
        with self._lock:
            seen = self._seen.get(name)
            if seen is None or seen.position != position:
                seen = self._seen[name] = _Seen(position, now)
        standing = now - seen.since
        if lag <= self.max_lag:
            return Check(f"follower:{name}", True, f"at {position}, {lag} behind")
        if standing < self.stall_seconds:
            return Check(f"follower:{name}", True, f"at {position}, {lag} behind and moving")
        return Check(
            f"follower:{name}",
            False,
            f"at {position}, {lag} events behind (more than {self.max_lag}), not moving for {standing:.0f}s",
        )

    def _broker_check(self) -> Check:
        now = self.monotonic()
        if self._broker is not None and now - self._broker[0] < BROKER_CACHE_SECONDS:
            return self._broker[1]
        check = broker_check(self.bus_url)
        self._broker = (now, check)
        return check


def broker_check(url: str) -> Check:
    from kombu import Connection

    from bookit.adapters.bus_topology import safe_url

    conn = Connection(url, connect_timeout=BROKER_TIMEOUT)
    try:
        conn.ensure_connection(max_retries=1, timeout=BROKER_TIMEOUT)
        return Check("broker", True, f"connected to {safe_url(url)}")
    except Exception as error:
        return Check(
            "broker", False, f"the broker at {safe_url(url)} does not answer: {first_line(error)[:200]}"
        )
    finally:
        conn.release()
