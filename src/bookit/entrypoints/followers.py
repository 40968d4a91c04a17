"""`bookit run --followers-only`: the followers in a process of their own.

Command workers started with `--commands-only` only decide and save; this process does the rest
of what commands cause, so the two use two cores:

- it lets the followers catch up (read models, then the mailer) and runs the commands they call
  for (a delivered reminder recorded on its booking), and moves the settled mark
  (`bookit.settled`) that the workers hold their replies for, at every round of that;
- it ticks every `--every` seconds (the due timers are in the read models it keeps current);
  command workers do not tick on a timer (a `Tick` sent over the bus still runs where it lands);
- with a broker URL it relays stored events to the events exchange; command workers do not.

Each of these already survives being run twice or being cut off halfway (tracked positions
moved by compare-and-set, derived command ids, Message-IDs the Maildir recognises), so a second
followers process, or one killed and started again, neither loses nor repeats anything.

It looks for new events every few milliseconds while busy, backing off to `IDLE_POLL` when the
store is quiet: one query on the event store's last notification id per look.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from datetime import datetime

from kombu import Connection

from bookit.adapters.bus_topology import Topology, safe_url
from bookit.adapters.event_relay import EventRelay, broker_connection
from bookit.bootstrap import STORE_ERRORS, Service
from bookit.entrypoints.service import Settings, tick_logged
from bookit.errors import first_line
from bookit.observability.logs import say
from bookit.settled import SettledMarker

log = logging.getLogger(__name__)

BUSY_POLL, IDLE_POLL = 0.002, 0.02  # seconds between looks for new events
FAILURE_PAUSE = 1.0
RECONNECT_MAX = 5.0


class Following:
    """One look: follow what is new, mark it settled; returns whether anything moved."""

    def __init__(self, service: Service) -> None:
        markers = [f for f in service.bus.followers if isinstance(f, SettledMarker)]
        if not markers:
            raise ValueError("a followers process needs a bus that marks (bootstrap.marking_settled)")
        self.bus = service.bus
        self.marker = markers[0]

    def step(self, now: datetime, last: int) -> bool:
        if last <= self.marker.settled:
            return False
        before = self.marker.settled
        self.bus.settle(now)
        self.marker.mark()
        return self.marker.settled > before


class Relaying:
    """The event relay on a broker connection of its own, opened again after the broker left."""

    def __init__(self, service: Service, url: str) -> None:
        self.service = service
        self.url = url
        self.topology = Topology.from_env()
        self._broker: Connection | None = None
        self._relay: EventRelay | None = None
        self._retry_at = 0.0
        self._pause = FAILURE_PAUSE

    def step(self, now: datetime, last: int) -> bool:
        if time.monotonic() < self._retry_at:
            return False
        try:
            relay = self._open()
            if last <= relay.position:
                return False
            published = relay.catch_up(now)[0] > 0
        except Exception as error:
            # The position did not move: the same events go out once the broker is back.
            log.warning("relaying events failed, retrying in %.1fs: %s", self._pause, first_line(error))
            self.close()
            self._retry_at = time.monotonic() + self._pause
            self._pause = min(self._pause * 2, RECONNECT_MAX)
            return False
        self._pause = FAILURE_PAUSE
        return published

    def _open(self) -> EventRelay:
        if self._relay is None:
            self._broker = broker_connection(self.url)
            self._relay = EventRelay(self.service.app, self.service.engine, self._broker, self.topology)
        return self._relay

    def close(self) -> None:
        if self._broker is not None:
            # A connection that is already gone has nothing left to release.
            with contextlib.suppress(Exception):
                self._broker.release()
        self._broker, self._relay = None, None


def run_followers(service: Service, settings: Settings, stop: threading.Event) -> None:
    """Follow, tick and relay until `stop` is set; with `once`, tick once and catch up first."""
    relaying = Relaying(service, settings.bus_url) if settings.bus_url != "local" else None
    out = f", events to {safe_url(settings.bus_url)}" if relaying else ""
    say(
        f"BookIT followers on {safe_url(service.store)}: read models and mail{out}, "
        f"ticking every {settings.every:g}s"
    )
    following = Following(service)
    clock = service.bus.clock
    next_tick, poll = 0.0, BUSY_POLL
    try:
        while not stop.is_set():
            if time.monotonic() >= next_tick:
                tick_logged(service, clock())
                next_tick = time.monotonic() + settings.every
            try:
                last = service.app.recorder.max_notification_id() or 0
                moved = following.step(clock(), last)
            except STORE_ERRORS as error:
                log.warning("following failed, the store is unavailable: %s", first_line(error))
                stop.wait(FAILURE_PAUSE)
                continue
            except Exception:
                log.exception("following failed; retrying")  # nothing moved past what failed
                stop.wait(FAILURE_PAUSE)
                continue
            if relaying is not None:
                moved = relaying.step(clock(), last) or moved
            if settings.once and not moved:
                return
            poll = BUSY_POLL if moved else min(poll * 2, IDLE_POLL)
            stop.wait(poll)
    finally:
        if relaying is not None:
            relaying.close()
