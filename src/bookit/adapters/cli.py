"""The `bookit` command line (CONTRACT.md): plain strings in, commands to the bus, results out.

Exit codes: 0 done, 1 refused by a domain rule, 2 bad input. With --json every result is one
JSON object on stdout, and a refusal is {"error": ..., "code": ...}.
"""

from __future__ import annotations

import io
import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NoReturn, TextIO

import click

from bookit import commands as c
from bookit.aggregates.base import SYSTEM
from bookit.bootstrap import STORE_ERRORS, Service, bootstrap, system_clock
from bookit.errors import BadInput, BookitError, StoreUnavailable
from bookit.localtime import parse_instant
from bookit.projections import queries


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


# Venues and admins


@main.group()
def venue() -> None:
    """Register and list venues."""


@venue.command("add")
@click.option("--name", required=True)
@click.option("--tz", required=True, help="IANA zone, e.g. Europe/London")
@click.option("--id", "venue_id", default=None)
@pass_ctx
def venue_add(ctx: Context, name: str, tz: str, venue_id: str | None) -> None:
    result = ctx.send(c.RegisterVenue, actor=SYSTEM, name=name, tz=tz, venue_id=venue_id)
    ctx.emit(result, f"venue {result['venue_id']} registered")


@venue.command("list")
@pass_ctx
def venue_list(ctx: Context) -> None:
    for row in queries.venue_list(ctx.service.engine):
        ctx.emit(row, f"{row['venue_id']}\t{row['name']}\t{row['tz']}")


@main.group()
def admin() -> None:
    """Grant the admin role."""


@admin.command("add")
@click.argument("email")
@pass_ctx
def admin_add(ctx: Context, email: str) -> None:
    result = ctx.send(c.GrantAdmin, actor=SYSTEM, email=email)
    ctx.emit(result, f"{result['admin']} is an admin")


# Bookings


@main.command()
@click.option("--user", required=True)
@click.option("--venue", "venue_id", required=True)
@click.option("--date", required=True)
@click.option("--start", required=True)
@click.option("--end", required=True)
@click.option("--purpose", default="")
@pass_ctx
def book(ctx: Context, user: str, venue_id: str, date: str, start: str, end: str, purpose: str) -> None:
    """Book a venue for an interval (times in the venue's own zone)."""
    result = ctx.send(
        c.BookVenue, actor=user, venue_id=venue_id, date=date, start=start, end=end, purpose=purpose
    )
    ctx.emit(result, f"{result['booking_id']}\t{result['status']}")


@main.command()
@click.argument("booking_id")
@click.option("--user", required=True)
@pass_ctx
def confirm(ctx: Context, booking_id: str, user: str) -> None:
    result = ctx.send(c.ConfirmBooking, actor=user, booking_id=booking_id)
    ctx.emit(result, f"{result['booking_id']}\t{result['status']}")


@main.command()
@click.argument("booking_id")
@click.option("--user", required=True)
@click.option("--reason", default="")
@pass_ctx
def cancel(ctx: Context, booking_id: str, user: str, reason: str) -> None:
    result = ctx.send(c.CancelBooking, actor=user, booking_id=booking_id, reason=reason)
    ctx.emit(result, f"{result['booking_id']}\t{result['status']}")


@main.command()
@click.argument("booking_id")
@click.option("--user", required=True, help="An admin.")
@pass_ctx
def override(ctx: Context, booking_id: str, user: str) -> None:
    """Waive auto-cancellation of a booking (admins only)."""
    result = ctx.send(c.WaiveAutoCancel, actor=user, booking_id=booking_id)
    ctx.emit(result, f"{result['booking_id']}\t{result['status']}\tauto-cancellation waived")


def _booking_line(row: dict[str, Any]) -> str:
    flags = (
        "confirmed" if row["confirmed"] else "unconfirmed",
        "reminded" if row["reminded"] else "not-reminded",
    )
    return "\t".join(
        [
            row["booking_id"],
            row["status"],
            *flags,
            row["venue_id"],
            row["date"],
            f"{row['start']}-{row['end']}",
            row["user"],
        ]
    )


@main.command()
@click.option("--user", default=None)
@click.option("--venue", "venue_id", default=None)
@click.option("--date", default=None)
@pass_ctx
def bookings(ctx: Context, user: str | None, venue_id: str | None, date: str | None) -> None:
    """One line per booking: status, confirmed, reminded."""
    for row in queries.booking_list(ctx.service.engine, user, venue_id, date):
        ctx.emit(row, _booking_line(row))


@main.command()
@click.argument("booking_id")
@pass_ctx
def show(ctx: Context, booking_id: str) -> None:
    """One booking's current state."""
    row = queries.booking(ctx.service.engine, booking_id)
    if row is None:
        raise BadInput(f"unknown booking: {booking_id}", "unknown_booking")
    ctx.emit(row, "\n".join(f"{k}: {v}" for k, v in row.items()))


# Waitlist


@main.group()
def waitlist() -> None:
    """Join, claim, leave or decline; see your entries."""


@waitlist.command("join")
@click.option("--user", required=True)
@click.option("--venue", "venue_id", required=True)
@click.option("--date", required=True)
@click.option("--start", required=True)
@click.option("--end", required=True)
@click.option("--priority", type=int, default=None, help="Admins only; lower goes first.")
@click.option("--for", "for_user", default=None, help="Admins only: put this user in the queue.")
@pass_ctx
def waitlist_join(
    ctx: Context,
    user: str,
    venue_id: str,
    date: str,
    start: str,
    end: str,
    priority: int | None,
    for_user: str | None,
) -> None:
    result = ctx.send(
        c.JoinWaitlist,
        actor=user,
        venue_id=venue_id,
        date=date,
        start=start,
        end=end,
        priority=priority,
        user=for_user,
    )
    ctx.emit(result, f"{result['entry_id']}\tposition {result['position']}")


def _entry_command(cls: type[c.Command], verb: str) -> Callable[..., None]:
    @click.argument("entry_id")
    @click.option("--user", required=True)
    @pass_ctx
    def run(ctx: Context, entry_id: str, user: str) -> None:
        result = ctx.send(cls, actor=user, entry_id=entry_id)
        ctx.emit(result, f"{result.get('booking_id', result.get('entry_id'))}\t{verb}")

    return run


waitlist.command("claim", help="Claim an open offer: books the slot at once.")(
    _entry_command(c.ClaimOffer, "claimed")
)
waitlist.command("leave", help="Leave the queue.")(_entry_command(c.LeaveWaitlist, "left"))
waitlist.command("decline", help="Pass an open offer on at once.")(_entry_command(c.DeclineOffer, "declined"))


@waitlist.command("mine")
@click.option("--user", required=True)
@pass_ctx
def waitlist_mine(ctx: Context, user: str) -> None:
    """Your active entries, with seconds left to claim when offered."""
    for row in queries.my_waitlist(ctx.service.engine, user, ctx.clock()):
        left = (
            f"\toffered, {row['seconds_left']}s left"
            if row["status"] == "offered"
            else f"\tposition {row['position']}"
        )
        ctx.emit(
            row, f"{row['entry_id']}\t{row['venue_id']}\t{row['date']}\t{row['start']}-{row['end']}{left}"
        )


# Time, history, read models, mail


@main.command()
@pass_ctx
def tick(ctx: Context) -> None:
    """Run everything due at the clock's now."""
    result = ctx.send(c.Tick, now=ctx.clock())
    ctx.emit(result, f"{result['now']}: {result['handled']} handled, {result['skipped']} skipped")


@main.command()
@click.argument("booking_id")
@pass_ctx
def history(ctx: Context, booking_id: str) -> None:
    """The audit trail: every event about a booking, in order."""
    rows = queries.history(ctx.service.engine, booking_id)
    if not rows:
        raise BadInput(f"unknown booking: {booking_id}", "unknown_booking")
    for row in rows:
        ctx.emit(
            row,
            f"{row['at']}\t{row['topic']}\tby {row['actor']}\tcommand {row['command_id']}\t"
            + json.dumps(row["data"], sort_keys=True),
        )


@main.command()
@click.option("--verify", is_flag=True, help="Rebuild into a scratch database and compare.")
@pass_ctx
def replay(ctx: Context, verify: bool) -> None:
    """Rebuild the read models from the event store."""
    from bookit.projections.rebuild import rebuild
    from bookit.projections.rebuild import verify as verify_rebuild

    service = ctx.service
    total = service.app.recorder.max_notification_id() or 0
    with click.progressbar(length=total, label="replaying", file=_progress_stream()) as bar:
        if verify:
            differences = verify_rebuild(service.app, service.engine, bar.update)
        else:
            applied = rebuild(service.app, service.engine, bar.update)
    if verify:
        result = {"verified": not differences, "differences": [vars(d) for d in differences]}
        ctx.emit(
            result,
            "read models match a fresh replay" if not differences else f"MISMATCH: {result['differences']}",
        )
        if differences:
            sys.exit(1)
    else:
        ctx.emit({"events": applied}, f"replayed {applied} events")


def _progress_stream() -> TextIO:
    """Progress goes to a terminal only; piped output stays clean for machines."""
    return sys.stderr if sys.stderr.isatty() else io.StringIO()


@main.command()
@click.option("--to", default=None)
@click.option("--refused", is_flag=True, help="The emails a mail server refused for good instead.")
@pass_ctx
def outbox(ctx: Context, to: str | None, refused: bool) -> None:
    """Emails sent, oldest first."""
    now = ctx.clock()
    ctx.service.bus.settle(now)
    for row in queries.outbox(ctx.service.engine, to, refused=refused):
        when, why = (row["refused_at"], f"\t{row['error']}") if refused else (row["sent_at"], "")
        ctx.emit(row, f"{when}\t{row['kind']}\t{row['recipient']}\t{row['subject_id']}{why}")
    paused = queries.backoff_of(ctx.service.engine, ctx.service.mailer.name)
    if paused is not None:
        # Whoever looks at the outbox is who needs to know that mail is not going out.
        click.echo(
            f"warning: mail delivery has failed {paused['failures']} time(s) since "
            f"{paused['failing_since']}; next attempt at {paused['retry_at']}: {paused['last_error']}",
            err=True,
        )


@main.command()
@click.option(
    "--every",
    type=float,
    default=30.0,
    envvar="BOOKIT_TICK_SECONDS",
    show_default=True,
    help="Seconds between ticks.",
)
@click.option("--once", is_flag=True, hidden=True)
@pass_ctx
def run(ctx: Context, every: float, once: bool) -> None:
    """The service: consume commands and tick every N seconds."""
    from bookit.adapters.service import run_service

    run_service(ctx, every=every, once=once)


@main.command()
@click.option("--days", type=int, default=7, show_default=True)
@click.option("--venues", type=int, default=3, show_default=True)
@click.option("--seed", type=int, default=7, show_default=True)
@pass_ctx
def demo(ctx: Context, days: int, venues: int, seed: int) -> None:
    """A simulated busy week with a fake clock, then a summary."""
    from bookit.simulation import Simulation

    sim = Simulation(ctx.home, venues=venues, days=days, seed=seed)
    with click.progressbar(length=sim.total_steps, label="simulating", file=_progress_stream()) as bar:
        summary = sim.run(progress=bar.update)
    ctx.emit(summary, "\n".join(f"{k:>22}: {v}" for k, v in summary.items()))
