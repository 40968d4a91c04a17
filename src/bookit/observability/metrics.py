"""The Prometheus metric families of CONTRACT.md "Operations", and the one exposition.

Counters and the histogram are counted where things happen (the bus's `handle`, a save, the
mailer's delivery, the worker's batch) through the functions below; the gauges are facts about
the store (follower lag, the oldest pending email, overdue timers, open offers), computed at
each scrape from the store (figures.py), so every process reports the same truth.

Labels take values from fixed sets only: a command's type among BookIT's command classes, an
email kind among the contract's kinds, outcomes from the tuples below, followers and timer
kinds by name. Anything else is counted as `other`, never as what was sent.

`bookit run --processes N` sets `PROMETHEUS_MULTIPROC_DIR` for its children
(prometheus_client's multiprocess mode): each process writes its counts there, and the one
serving `/metrics` adds them up.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

COMMAND_OUTCOMES = ("ok", "refused", "bad_input", "error")
EMAIL_OUTCOMES = ("delivered", "refused", "deferred")
BUS_OUTCOMES = ("ok", "refused", "bad_input", "requeued")
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

REGISTRY = CollectorRegistry()

COMMANDS = Counter(
    "bookit_commands", "Commands handled, by type and outcome.", ["command", "outcome"], registry=REGISTRY
)
COMMAND_SECONDS = Histogram(
    "bookit_command_seconds",
    "Time to decide and store one command (settling the followers included where it settles).",
    ["command"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
    registry=REGISTRY,
)
EVENTS_STORED = Counter("bookit_events_stored", "Events written to the event store.", registry=REGISTRY)
EMAILS = Counter(
    "bookit_emails",
    "Emails handed to the mail server, by kind and outcome.",
    ["kind", "outcome"],
    registry=REGISTRY,
)
BUS_MESSAGES = Counter(
    "bookit_bus_messages", "Command messages taken from the bus, by outcome.", ["outcome"], registry=REGISTRY
)

_command_names: set[str] = set()


def command_label(command: Any) -> str:
    name = type(command).__name__
    if name not in _command_names:
        from bookit.commands import Command

        _command_names.update(_subclass_names(Command))
    return name if name in _command_names else "other"


def _subclass_names(cls: type) -> Iterable[str]:
    sub: type
    for sub in cls.__subclasses__():
        if not sub.__name__.startswith("_"):
            yield sub.__name__
        yield from _subclass_names(sub)


def email_kind(kind: str) -> str:
    from bookit.adapters.mail.compose import KINDS

    return kind if kind in KINDS else "other"


def command_done(command: Any, outcome: str, seconds: float) -> None:
    label = command_label(command)
    COMMANDS.labels(label, outcome).inc()
    COMMAND_SECONDS.labels(label).observe(seconds)


def events_stored(count: int) -> None:
    if count:
        EVENTS_STORED.inc(count)


def emails(kinds: Iterable[str], outcome: str) -> None:
    for kind in kinds:
        EMAILS.labels(email_kind(kind), outcome).inc()


def bus_message(outcome: str) -> None:
    BUS_MESSAGES.labels(outcome if outcome in BUS_OUTCOMES else "bad_input").inc()


class StoreFigures(Collector):
    """The gauges, from a readiness report made at each scrape (`read()`: a health.Report):
    `bookit_ready` (1 ready, 0 not: an addition to the contract's table, for the alert), and
    the store's figures, which are left out while the store does not answer."""

    def __init__(self, read: Callable[[], Any]) -> None:
        self.read = read

    def collect(self) -> Iterable[Any]:
        report = self.read()
        yield GaugeMetricFamily(
            "bookit_ready",
            "1 when every readiness check passes (as /readyz), else 0.",
            value=int(report.ready),
        )
        figures = report.figures
        if figures is None:
            return
        lag = GaugeMetricFamily(
            "bookit_follower_lag_events", "Stored events a follower has not passed yet.", labels=["follower"]
        )
        for name, behind in sorted(figures.lag.items()):
            lag.add_metric([name], behind)
        yield lag
        yield GaugeMetricFamily(
            "bookit_outbox_oldest_pending_seconds",
            "Age of the oldest event whose emails the mailer has not sent yet (0: none pending).",
            value=figures.oldest_pending_seconds,
        )
        overdue = GaugeMetricFamily(
            "bookit_timers_overdue",
            "Due timers not handled a tick's slack after they fell due.",
            labels=["kind"],
        )
        for kind, count in sorted(figures.overdue.items()):
            overdue.add_metric([kind], count)
        yield overdue
        yield GaugeMetricFamily(
            "bookit_waitlist_offers_open", "Waitlist offers open now.", value=figures.offers_open
        )


def exposition(store_figures: Collector) -> bytes:
    """The text exposition: this process's counts (or, in multiprocess mode, every process's,
    added up), then the store's gauges."""
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if directory:
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry, path=directory)
    else:
        registry = CollectorRegistry()
        registry.register(_Own())
    registry.register(store_figures)
    return generate_latest(registry)


class _Own(Collector):
    def collect(self) -> Iterable[Any]:
        return REGISTRY.collect()
