"""`bookit run`: the long-running service. It ticks on a timer, serves the pages behind the links
in emails, and with a broker URL it also consumes commands from the bus.

Its role (`Settings.role`) splits that work between processes: `all` (the default) does all of
it; `commands` (`--commands-only`) only takes commands from the bus and leaves following,
ticking and relaying to a `followers` process (`--followers-only`, entrypoints/followers.py).
`--processes N` starts one of the latter and N-1 of the former (entrypoints/processes.py)."""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import click

from bookit import commands as c
from bookit.adapters.bus_topology import safe_url
from bookit.application import Outcome
from bookit.bootstrap import STORE_ERRORS, Service
from bookit.errors import first_line
from bookit.observability.logs import say

log = logging.getLogger(__name__)

# A service outlives a store that is down (STORE_ERRORS): it waits and tries again.
FIRST_RETRY, LONGEST_RETRY = 0.5, 5.0


@dataclass(frozen=True)
class Settings:
    every: float  # seconds between ticks
    once: bool = False  # tick once (and drain what the bus has queued), then return
    bus_url: str = "local"  # a broker URL: consume commands from it and relay events to it
    role: str = "all"  # ALL, COMMANDS or FOLLOWERS
    follow_wait: float = 10.0  # COMMANDS: how long a reply waits for the followers process
    http: bool = True  # serve the link pages and the HTTP API


ALL, COMMANDS, FOLLOWERS = "all", "commands", "followers"


def stop_on_signals() -> threading.Event:
    """An event set by SIGINT or SIGTERM; logging (and tracing) set up for a long-running
    process (observability/logs.py, otel.py)."""
    from bookit.observability import logs, otel

    logs.configure()
    otel.configure()
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    return stop


def open_when_ready(open_service: Callable[[], Service], stop: threading.Event) -> Service | None:
    """The service, once its store answers; None if asked to stop first. A supervisor that starts
    BookIT before its database is up (or during a restart) needs no restart loop of its own."""
    delay = FIRST_RETRY
    while True:
        try:
            return open_service()
        except STORE_ERRORS as error:
            log.warning("the store is unavailable, retrying in %.1fs: %s", delay, first_line(error))
        if stop.wait(delay):
            return None
        delay = min(delay * 2, LONGEST_RETRY)


def run_service(service: Service, settings: Settings, stop: threading.Event) -> None:
    """Serve the link pages and the HTTP API, and tick (or work the bus, or follow), until
    `stop` is set."""
    pages = _serve_pages(service, settings, stop) if settings.http else None
    sends_emails = settings.role != COMMANDS
    if sends_emails:
        from bookit.adapters.mail.compose import compile_templates
        from bookit.adapters.mail.outbox import keep_writer_threads, stop_writer_threads

        compile_templates()
        keep_writer_threads()
    try:
        if settings.role == FOLLOWERS:
            from bookit.entrypoints.followers import run_followers

            run_followers(service, settings, stop)
            return
        if settings.bus_url != "local":
            from bookit.entrypoints.bus_worker import run_worker

            run_worker(service, settings, stop)
            return
        _tick_until_stopped(service, settings, stop)
    finally:
        stop.set()
        if pages is not None and pages.is_alive():
            pages.join(timeout=10)
        if sends_emails:
            stop_writer_threads()


def _serve_pages(service: Service, settings: Settings, stop: threading.Event) -> threading.Thread:
    """Bind the HTTP address first: a service that cannot serve it exits (1) before it ticks
    or takes a command, rather than running without its pages and API."""
    from bookit.entrypoints.api import make_api
    from bookit.entrypoints.link_pages import http_address, listen, serve_links

    host, port = http_address()
    try:
        sock = None if settings.once else listen(host, port)
    except OSError as error:
        raise click.ClickException(
            f"cannot serve the link pages and the HTTP API on {host}:{port} "
            f"({error.strerror or error}): is another `bookit run` using it? "
            "Stop it, or set BOOKIT_HTTP_PORT (and BOOKIT_HTTP_HOST) to a free address"
        ) from None
    api = make_api(service, settings.bus_url)

    def serve() -> None:
        assert sock is not None
        try:
            serve_links(service, host, port, stop, api=api, sock=sock, bus_url=settings.bus_url)
        except Exception:
            log.exception("the link pages and the HTTP API stopped; stopping the service")
            stop.set()

    pages = threading.Thread(target=serve, name="links", daemon=True)
    if not settings.once:
        pages.start()
    say(
        f"BookIT on {safe_url(service.store)} under {service.home}: ticking every {settings.every:g}s, "
        f"link pages on http://{host}:{port}/ (Ctrl-C stops)"
    )
    say(f"HTTP API on http://{host}:{port}/api/ ({api.state.tokens.describe()})")
    return pages


def _tick_until_stopped(service: Service, settings: Settings, stop: threading.Event) -> None:
    while not stop.is_set():
        try:
            result = service.bus.handle(c.Tick(now=service.bus.clock()))
        except STORE_ERRORS as error:
            log.warning("tick failed, the store is unavailable: %s", first_line(error))
            stop.wait(settings.every)
            continue
        log_tick(result)
        if settings.once:
            return
        stop.wait(settings.every)


def log_tick(result: Outcome) -> None:
    if result["handled"] or result["skipped"]:
        from bookit.policies.due_work import told

        log.info("tick at %s", told(result))


def tick_logged(service: Service, now: datetime) -> None:
    """A tick of a long-running worker: what it did logged, a failure logged and survived (the
    next tick catches up)."""
    try:
        log_tick(service.bus.handle(c.Tick(now=now)))
    except STORE_ERRORS as error:
        log.warning("tick failed, the store is unavailable: %s", first_line(error))
    except Exception:
        log.exception("tick failed; the next one catches up")
