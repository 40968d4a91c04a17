"""The `bookit` group, its global options and the Context every command gets.

Exit codes: 0 done, 1 refused by a domain rule, 2 bad input. With --json every result is one
JSON object on stdout, and a refusal is {"error": ..., "code": ...}.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NoReturn

import click

from bookit import commands as c
from bookit.bootstrap import STORE_ERRORS, Service, bootstrap, system_clock
from bookit.errors import BadInput, BookitError, StoreUnavailable
from bookit.localtime import parse_instant


@dataclass
class Context:
    home: str
    store: str
    bus_url: str
    now: datetime | None
    as_json: bool
    _service: Service | None = field(default=None, repr=False)

    def clock(self) -> datetime:
        return self.now or system_clock()

    @property
    def service(self) -> Service:
        if self._service is None:
            self._service = bootstrap(self.home, self.store, clock=self.clock)
        return self._service

    def send(self, cls: type[c.Command], **fields: Any) -> dict[str, Any]:
        command = c.build(cls, **fields)
        if self.bus_url != "local":
            from bookit.adapters.bus_client import send_and_wait

            return send_and_wait(self.bus_url, command)
        return self.service.bus.handle(command)

    def emit(self, result: Any, human: str | Callable[[], None]) -> None:
        if self.as_json:
            click.echo(json.dumps(result, sort_keys=True, default=str))
        elif callable(human):
            human()
        else:
            click.echo(human)


def _fail(ctx: Context | None, error: BookitError) -> NoReturn:
    if ctx is not None and ctx.as_json:
        click.echo(json.dumps(error.as_dict(), sort_keys=True))
    click.echo(f"error: {error.message}", err=True)
    sys.exit(error.exit_code)


@contextmanager
def _domain_errors(ctx: Context | None) -> Iterator[None]:
    try:
        yield
    except BookitError as error:
        _fail(ctx, error)


class _Group(click.Group):
    """Turns BookIT's refusals into the contract's exit codes wherever they are raised."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except BookitError as error:
            _fail(ctx.find_object(Context), error)
        except UnicodeError:
            # Bytes that are not UTF-8 in argv reach us as lone surrogates; say so plainly.
            _fail(ctx.find_object(Context), BadInput("an argument is not valid UTF-8 text", "bad_input"))
        except ValueError as error:
            _fail(ctx.find_object(Context), BadInput(str(error), "bad_input"))
        except STORE_ERRORS as error:
            # A lock held past the timeout, a killed session: a transaction that failed wrote
            # nothing, but the person needs to hear that, not read a traceback.
            _fail(ctx.find_object(Context), StoreUnavailable(error))


pass_ctx = click.make_pass_decorator(Context)


@click.group(cls=_Group)
@click.option(
    "--home",
    envvar="BOOKIT_HOME",
    default="./.bookit",
    show_default=True,
    help="Where the embedded store, read models and outbox live.",
)
@click.option(
    "--store", envvar="BOOKIT_STORE", default="sqlite", show_default=True, help="'sqlite' or postgresql://..."
)
@click.option(
    "--bus",
    "bus_url",
    envvar="BOOKIT_BUS",
    default="local",
    show_default=True,
    help="'local' or a kombu URL.",
)
@click.option(
    "--now", envvar="BOOKIT_NOW", default=None, help="The clock's current instant, ISO 8601 with offset."
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object per result.")
@click.pass_context
def main(ctx: click.Context, home: str, store: str, bus_url: str, now: str | None, as_json: bool) -> None:
    """BookIT core: bookings, reminders, auto-cancellation and a fair waitlist."""
    obj = Context(home, store, bus_url, None, as_json)
    ctx.obj = obj
    with _domain_errors(obj):
        obj.now = parse_instant(now) if now else None
    ctx.call_on_close(lambda: obj._service.close() if obj._service else None)
