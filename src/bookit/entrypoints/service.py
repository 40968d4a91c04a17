"""`bookit run`: the long-running service. It ticks on a timer, serves the pages behind the links
in emails, and with a broker URL it also consumes commands from the bus."""

from __future__ import annotations

import logging
import signal
import threading
from datetime import datetime
from typing import Any

import click

from bookit import commands as c
from bookit.application import Outcome
from bookit.bootstrap import STORE_ERRORS, Service
from bookit.errors import first_line
from bookit.messagebus import MessageBus

log = logging.getLogger(__name__)

# A service outlives a store that is down (STORE_ERRORS): it waits and tries again.
FIRST_RETRY, LONGEST_RETRY = 0.5, 5.0


class SerialisedBus:
    """The link pages and the worker share one process: their commands run one at a time, so two
    threads never settle the same event (and send its email) at once."""

    def __init__(self, bus: MessageBus) -> None:
        self._bus = bus
        self._lock = threading.RLock()

    def handle(self, command: c.Command) -> Outcome:
        with self._lock:
            return self._bus.handle(command)

    def settle(self, now: datetime) -> None:
        with self._lock:
            self._bus.settle(now)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._bus, name)


def run_service(ctx: Any, every: float, once: bool = False) -> None:
    from bookit.entrypoints.link_pages import http_address, serve_links

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    service = _open_store(ctx, stop)
    if service is None:
        return
    service.bus = SerialisedBus(service.bus)  # type: ignore[assignment]  # same handle/settle, locked
    from bookit.entrypoints.api import make_api

    host, port = http_address()
    api = make_api(service, ctx.bus_url)
    pages = threading.Thread(
        target=serve_links, args=(service, host, port, stop, None, api), name="links", daemon=True
    )
    if not once:
        pages.start()
    click.echo(
        f"BookIT on {ctx.store} under {service.home}: ticking every {every:g}s, "
        f"link pages on http://{host}:{port}/ (Ctrl-C stops)",
        err=True,
    )
    click.echo(f"HTTP API on http://{host}:{port}/api/ ({api.state.tokens.describe()})", err=True)
    try:
        if ctx.bus_url != "local":
            from bookit.entrypoints.bus_worker import run_worker

            run_worker(ctx, every=every, stop=stop, once=once)
            return
        while not stop.is_set():
            try:
                result = service.bus.handle(c.Tick(now=ctx.clock()))
            except STORE_ERRORS as error:
                log.warning("tick failed, the store is unavailable: %s", first_line(error))
                stop.wait(every)
                continue
            if result["handled"] or result["skipped"]:
                log.info(
                    "tick at %s: %s handled, %s skipped", result["now"], result["handled"], result["skipped"]
                )
            if once:
                return
            stop.wait(every)
    finally:
        stop.set()
        if pages.is_alive():
            pages.join(timeout=10)


def _open_store(ctx: Any, stop: threading.Event) -> Service | None:
    """The service, once its store answers; None if asked to stop first. A supervisor that starts
    BookIT before its database is up (or during a restart) needs no restart loop of its own."""
    delay = FIRST_RETRY
    while True:
        try:
            service: Service = ctx.service
            return service
        except STORE_ERRORS as error:
            log.warning("the store is unavailable, retrying in %.1fs: %s", delay, first_line(error))
        if stop.wait(delay):
            return None
        delay = min(delay * 2, LONGEST_RETRY)
