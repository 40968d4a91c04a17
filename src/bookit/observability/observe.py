"""What the rest of BookIT calls to be seen: one line where each thing happens.

- `command(cmd)`: around the bus's handling of one command (every door passes there): its
  span, `bookit_commands_total` and `bookit_command_seconds`, and one log line with the
  command's type, id, outcome, milliseconds and trace.
- `group(commands, results, seconds)`: system commands run as one group (a tick's, the
  followers'), counted one by one.
- `saving()`: around one atomic save: its span and `bookit_events_stored_total`.
- `following(follower)`: around one follower's step.
- `sending(kinds)` and `emails_done(...)`: around the mailer's delivery, and what became of it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from bookit.errors import BadInput, BookitError, Refused
from bookit.observability import metrics, tracing

log = logging.getLogger("bookit.commands")

# False: nothing is counted or logged per command (traces still flow). Only `make bench` turns
# it off, to measure what counting and logging cost (bench/observed.py).
counting = True


def outcome_of(error: BaseException | None) -> str:
    if error is None:
        return "ok"
    if isinstance(error, BadInput):
        return "bad_input"
    if isinstance(error, Refused):
        return "refused"
    return "error"


@contextmanager
def command(cmd: Any) -> Iterator[None]:
    name = metrics.command_label(cmd)
    started = time.perf_counter()
    with tracing.span(f"command {name}", {"bookit.command": name}):
        error: BaseException | None = None
        try:
            yield
        except BaseException as failed:
            error = failed
            raise
        finally:
            if counting:
                seconds = time.perf_counter() - started
                outcome = outcome_of(error)
                metrics.command_done(cmd, outcome, seconds)
                _log(name, str(cmd.command_id), outcome, seconds, error)


def _log(name: str, command_id: str, outcome: str, seconds: float, error: BaseException | None) -> None:
    if not log.isEnabledFor(logging.INFO):
        return
    ms = round(seconds * 1000, 2)
    extra = {"command": name, "command_id": command_id, "outcome": outcome, "ms": ms}
    if isinstance(error, BookitError):
        extra["code"] = error.code
    level = logging.WARNING if outcome == "error" else logging.INFO
    log.log(level, "%s %s %s in %.1f ms", name, command_id, outcome, ms, extra=extra)


def group(commands: Sequence[Any], results: Sequence[Any], seconds: float) -> None:
    """System commands run together: each counted with its own outcome, the group's time shared."""
    if not counting:
        return
    each = seconds / max(len(commands), 1)
    for cmd, result in zip(commands, results, strict=False):
        error = result if isinstance(result, BaseException) else None
        outcome = outcome_of(error)
        metrics.command_done(cmd, outcome, each)
        _log(metrics.command_label(cmd), str(cmd.command_id), outcome, each, error)


@contextmanager
def saving() -> Iterator[Callable[[int], None]]:
    """Around one atomic save; call what it yields with the number of events stored."""
    with tracing.span("save"):
        yield metrics.events_stored if counting else _uncounted


def _uncounted(count: int) -> None:
    pass


@contextmanager
def following(follower: Any) -> Iterator[None]:
    with tracing.span(
        "follower step", {"bookit.follower": getattr(follower, "name", "") or type(follower).__name__}
    ):
        yield


@contextmanager
def owed_by(event: Any) -> Iterator[None]:
    """While the emails `event` owes are sent: under the trace that stored it, if it has one."""
    stored = tracing.parse(getattr(event, tracing.HEADER, None))
    with tracing.continued(stored or tracing.current()):
        yield


@contextmanager
def sending(count: int) -> Iterator[None]:
    """Around handing emails to the mail server."""
    with tracing.span("email send", {"bookit.emails": count}):
        yield


def bus_message(reply: dict[str, Any]) -> None:
    """A command message answered with `reply` (the worker's, bus_worker.error_reply)."""
    metrics.bus_message("ok" if reply.get("ok") else str(reply.get("kind", "bad_input")))


def emails_done(delivered: Sequence[str], refused: Sequence[str], deferred: Sequence[str]) -> None:
    """The kinds of the emails the server took, refused for good, and that wait for a retry."""
    if not counting:
        return
    metrics.emails(delivered, "delivered")
    metrics.emails(refused, "refused")
    metrics.emails(deferred, "deferred")
