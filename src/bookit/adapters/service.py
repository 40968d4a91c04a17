"""`bookit run`: the long-running service. Ticks on a timer (the embedded default); with a broker
URL it also consumes commands from the bus."""

from __future__ import annotations

import logging
import signal
import threading
from typing import Any

import click

from bookit import commands as c

log = logging.getLogger(__name__)


def run_service(ctx: Any, every: float, once: bool = False) -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    service = ctx.service
    if ctx.bus_url != "local":
        from bookit.adapters.bus_worker import run_worker

        run_worker(ctx, every=every, stop=stop, once=once)
        return
    click.echo(
        f"BookIT running on {ctx.store} under {service.home}; ticking every {every:g}s (Ctrl-C stops)",
        err=True,
    )
    while not stop.is_set():
        result = service.bus.handle(c.Tick(now=ctx.clock()))
        if result["handled"] or result["skipped"]:
            log.info(
                "tick at %s: %s handled, %s skipped", result["now"], result["handled"], result["skipped"]
            )
        if once:
            return
        stop.wait(every)
