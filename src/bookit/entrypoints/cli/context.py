"""The `bookit` group, its global options and the Context every command gets.

Exit codes: 0 done, 1 refused by a domain rule, 2 bad input. With --json every result is one
JSON object on stdout, and a refusal is {"error": ..., "code": ...}.

Starting fast: `bookit --help` and a mistyped option must not wait for the store, the bus or
the templates to load, so this package imports only click and small modules at the top. A
command imports what it needs inside its function: the commands (pydantic), the read queries
(SQLAlchemy), the service (the event store, the mailer). A command that only reads asks for
`ctx.read_models`, the read-model database alone. tests/e2e/test_cli_startup.py holds every
module of this package to that.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import click

from bookit.entrypoints.cli.environment import epilog
from bookit.errors import BadInput, BookitError, StoreUnavailable

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from bookit import commands as c
    from bookit.bootstrap import Service


@dataclass
class Context:
    home: str
    store: str
    bus_url: str
    now: datetime | None
    as_json: bool
    _service: Service | None = field(default=None, repr=False)
    _read_models: Engine | None = field(default=None, repr=False)

    def clock(self) -> datetime:
        return self.now or datetime.now(UTC)  # the operator's clock, as bootstrap.system_clock

    @property
    def service(self) -> Service:
        if self._service is None:
            from bookit.bootstrap import bootstrap

            self._service = bootstrap(self.home, self.store, clock=self.clock)
        return self._service

    @property
    def read_models(self) -> Engine:
        """The read-model database, without the event store, the mailer or the bus: enough
        for a command that only reads (in local mode every command has brought them up to
        date before it returned)."""
        if self._service is not None:
            return self._service.engine
        if self._read_models is None:
            from bookit.projections.database import make_engine
            from bookit.projections.versioned import is_current
            from bookit.stores import schema_turn, store_env

            home = Path(self.home)
            home.mkdir(parents=True, exist_ok=True)
            _, url = store_env(home, self.store)
            with schema_turn(self.store, home):
                engine = make_engine(url)
            if not is_current(engine):
                # Built by another version (or never): the service rebuilds them first.
                engine.dispose()
                return self.service.engine
            self._read_models = engine
        return self._read_models

    def close(self) -> None:
        if self._service is not None:
            self._service.close()
        if self._read_models is not None:
            self._read_models.dispose()

    def send(self, cls: type[c.Command] | str, **fields: Any) -> dict[str, Any]:
        """Build the command (a class of `bookit.commands`, or its name) and run it."""
        from bookit import commands as c

        command = c.build(getattr(c, cls) if isinstance(cls, str) else cls, given_as(fields), **fields)
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


# Which of a command's options (by click's parameter name) gives each command field, first
# match wins; any other field is given by the parameter of its own name.
_FIELD_PARAMS = {"actor": ("by", "user", "admin"), "user": ("for_user", "user")}


def given_as(fields: dict[str, Any]) -> dict[str, str]:
    """How the person typed each field of the command being run (`actor` -> `--user`)."""
    current = click.get_current_context(silent=True)
    if current is None:
        return {}
    params = {p.name: p for p in current.command.params}
    names = {}
    for field_name in fields:
        for candidate in _FIELD_PARAMS.get(field_name, (field_name,)):
            param = params.get(candidate)
            if param is not None:
                names[field_name] = (
                    param.opts[0] if isinstance(param, click.Option) else param.human_readable_name
                )
                break
    return names


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


# The form and meaning of the values most commands take, by click's parameter name: an option
# without its own metavar or help gets these, so every command's help shows what to type.
_FORMS = {
    "user": ("EMAIL", "who is acting: their email address, e.g. ann@example.com"),
    "admin": ("EMAIL", "the admin acting: their email address (`bookit admin add`)"),
    "to": ("EMAIL", "only the emails to this address"),
    "venue_id": ("VENUE", "the venue's id, e.g. main-hall (`bookit venue list`)"),
    "venue": ("VENUE", "only this venue: its id, e.g. main-hall"),
    "date": ("YYYY-MM-DD", "the day in the venue's own zone, e.g. 2026-12-03"),
    "start": ("HH:MM", "the start, 24-hour wall time in the venue's zone, e.g. 14:00"),
    "end": ("HH:MM", "the end, e.g. 16:00; 24:00 is midnight at the end of the day"),
    "purpose": ("TEXT", "what it is for, free text (at most 1000 characters)"),
    "reason": ("TEXT", "why, free text (at most 1000 characters)"),
    "name": ("TEXT", "a name, one line (at most 120 characters)"),
    "tz": ("ZONE", "an IANA time zone, e.g. Europe/London"),
    "days": ("N", "how many days to simulate"),
    "venues": ("N", "how many venues to simulate"),
    "seed": ("N", "the random seed: the same seed gives the same run"),
    "priority": ("N", "admins only: -100..100, lower goes first (default 0)"),
    "every": ("SECONDS", None),
    "follow_wait": ("SECONDS", None),
    "processes": ("N", None),
    "check_in_minutes": ("MINUTES", None),
    "tick_slack": ("MINUTES", None),
    "tick_minutes": ("MINUTES", None),
    "first": ("YYYY-MM-DD", None),
    "last": ("YYYY-MM-DD", None),
    "policies": ("NAME[,NAME...]", None),
    "as_of": ("INSTANT", None),
}


def _json_here(ctx: click.Context, param: click.Parameter, value: bool) -> None:
    obj = ctx.find_object(Context)
    if value and obj is not None:
        obj.as_json = True


class _Command(click.Command):
    """A BookIT command: `--json` after the command name too, and the forms of common values."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for param in self.params:
            form, meaning = _FORMS.get(param.name or "", (None, None))
            if isinstance(param, click.Option) and not param.is_flag:
                param.metavar = param.metavar or form
                param.help = param.help or (meaning and f"{meaning[0].upper()}{meaning[1:]}.")
        if not any(param.name in ("as_json", "json_here") for param in self.params):
            self.params.append(
                click.Option(
                    ["--json", "json_here"],
                    is_flag=True,
                    expose_value=False,
                    callback=_json_here,
                    help="Print one JSON object per result (as `bookit --json ...`).",
                )
            )


class _Group(click.Group):
    """Turns BookIT's refusals into the contract's exit codes wherever they are raised."""

    command_class = _Command
    group_class = type  # subgroups are _Groups, so their commands are _Commands too

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
        except Exception as error:
            if not _is_store_error(error):
                raise
            # A lock held past the timeout, a killed session: a transaction that failed wrote
            # nothing, but the person needs to hear that, not read a traceback.
            _fail(ctx.find_object(Context), StoreUnavailable(error))


def _is_store_error(error: Exception) -> bool:
    # Only a command that opened the store can fail this way, and it has imported them already.
    if "sqlalchemy" not in sys.modules and "eventsourcing" not in sys.modules:
        return False
    from bookit.bootstrap import STORE_ERRORS

    return isinstance(error, STORE_ERRORS)


pass_ctx = click.make_pass_decorator(Context)


def _print_version(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if not value or ctx.resilient_parsing:
        return
    from importlib.metadata import version

    from bookit.evolution import EVENT_SCHEMA_VERSION
    from bookit.projections.tables import MAIL_RULES_VERSION, READ_MODELS_VERSION

    click.echo(
        f"bookit-core {version('bookit-core')}: event schema {EVENT_SCHEMA_VERSION}, "
        f"read models {READ_MODELS_VERSION}, mail rules {MAIL_RULES_VERSION}"
    )
    ctx.exit()


@click.group(cls=_Group, epilog=epilog())
@click.option(
    "--home",
    envvar="BOOKIT_HOME",
    default="./.bookit",
    show_default=True,
    show_envvar=True,
    metavar="DIR",
    help="Where the embedded store, read models and outbox live.",
)
@click.option(
    "--store",
    envvar="BOOKIT_STORE",
    default="sqlite",
    show_default=True,
    show_envvar=True,
    metavar="sqlite|URL",
    help="The event store and read models: sqlite (files under --home) or postgresql://user@host/db.",
)
@click.option(
    "--bus",
    "bus_url",
    envvar="BOOKIT_BUS",
    default="local",
    show_default=True,
    show_envvar=True,
    metavar="local|URL",
    help="Where commands go: local (this process) or a broker, amqp://... or redis://...",
)
@click.option(
    "--now",
    envvar="BOOKIT_NOW",
    default=None,
    show_envvar=True,
    metavar="INSTANT",
    help="The clock's current instant, ISO 8601 with an offset, e.g. 2026-12-01T09:00Z (default: now).",
)
@click.option(
    "--json", "as_json", is_flag=True, help="Print one JSON object per result (also after the command)."
)
@click.option(
    "--version",
    is_flag=True,
    expose_value=False,
    is_eager=True,
    callback=_print_version,
    help="Print the package version, the event schema version and the read models' version.",
)
@click.pass_context
def main(ctx: click.Context, home: str, store: str, bus_url: str, now: str | None, as_json: bool) -> None:
    """BookIT core: bookings, reminders, auto-cancellation and a fair waitlist.

    Dates are YYYY-MM-DD and times HH:MM in the venue's own zone; people are email addresses.
    Exit codes: 0 done, 1 refused by a rule, 2 bad input. Run `bookit COMMAND --help` for one
    command."""
    obj = Context(home, store, bus_url, None, as_json)
    ctx.obj = obj
    if now:
        from bookit.localtime import parse_instant

        with _domain_errors(obj):
            obj.now = parse_instant(now)
    ctx.call_on_close(obj.close)
