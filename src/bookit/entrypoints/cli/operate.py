"""Time, read models, mail and the service: `tick`, `replay`, `outbox`, `run`, `demo`
(`history` is in audit.py)."""

from __future__ import annotations

import io
import sys
from typing import TYPE_CHECKING, TextIO

import click

from bookit.entrypoints.cli.context import Context, main, pass_ctx

if TYPE_CHECKING:
    from bookit.bootstrap import Service

# Time, history, read models, mail


@main.command()
@pass_ctx
def tick(ctx: Context) -> None:
    """Run everything due at the clock's now (reminders, auto-cancellations, offers that ran
    out, queues that closed) and say what was done."""
    from bookit.policies.due_work import told

    result = ctx.send("Tick", now=ctx.clock())
    ctx.emit(result, told(result))


@main.command()
@click.option("--verify", is_flag=True, help="Rebuild into a scratch database and compare.")
@pass_ctx
def replay(ctx: Context, verify: bool) -> None:
    """Rebuild the read models from the event store."""
    from bookit.projections.rebuild import rebuild
    from bookit.projections.rebuild import verify as verify_rebuild
    from bookit.projections.versioned import record

    service = ctx.service
    total = service.app.recorder.max_notification_id() or 0
    with click.progressbar(length=total, label="replaying", file=_progress_stream()) as bar:
        if verify:
            differences = verify_rebuild(service.app, service.engine, bar.update)
        else:
            applied = rebuild(service.app, service.engine, bar.update)
            record(service.engine, ctx.clock())
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
    from bookit.projections import queries

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
@click.option(
    "--followers-only",
    is_flag=True,
    help="Only follow: read models, emails, ticks, and events out to the bus (no commands taken).",
)
@click.option(
    "--commands-only",
    is_flag=True,
    help="Only take commands from the bus; a --followers-only process follows, ticks and relays.",
)
@click.option(
    "--processes",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="With a bus: run one followers process and N-1 command workers (1: one process does all).",
)
@click.option(
    "--follow-wait",
    type=click.FloatRange(min=0),
    default=10.0,
    envvar="BOOKIT_FOLLOW_WAIT",
    show_default=True,
    help="--commands-only: seconds a reply may wait for the followers to show what it caused (0: none).",
)
@click.option("--no-http", is_flag=True, hidden=True)
@click.option("--once", is_flag=True, hidden=True)
@pass_ctx
def run(
    ctx: Context,
    every: float,
    followers_only: bool,
    commands_only: bool,
    processes: int,
    follow_wait: float,
    no_http: bool,
    once: bool,
) -> None:
    """The service: tick every --every seconds, serve the email links' pages and the HTTP API
    (/api, OpenAPI at /api/openapi.json, docs at /api/docs) on BOOKIT_HTTP_HOST:BOOKIT_HTTP_PORT
    (127.0.0.1:8080), and with --bus take commands from the broker. The API needs
    BOOKIT_API_SECRET (or BOOKIT_API_PUBLIC_KEY) to answer. Exits 1 if it cannot serve its
    address."""
    from bookit.entrypoints.service import (
        ALL,
        COMMANDS,
        FOLLOWERS,
        Settings,
        open_when_ready,
        run_service,
        stop_on_signals,
    )

    _check_roles(ctx, followers_only, commands_only, processes)
    role = FOLLOWERS if followers_only else COMMANDS if commands_only else ALL
    stop = stop_on_signals()
    if processes > 1:
        from bookit.entrypoints.processes import child_commands, child_env, run_processes

        now = ctx.now.isoformat() if ctx.now else None
        from bookit.observability.multiproc import shared_metrics

        env = child_env(ctx.home, ctx.store, ctx.bus_url, now)
        with shared_metrics(env):
            status = run_processes(env, child_commands(processes, every, follow_wait), stop)
        sys.exit(status)

    def open_service() -> Service:
        from bookit.bootstrap import followed_elsewhere, marking_settled

        if role == COMMANDS:
            return followed_elsewhere(ctx.service, follow_wait)
        return marking_settled(ctx.service) if role == FOLLOWERS else ctx.service

    service = open_when_ready(open_service, stop)
    if service is not None:
        settings = Settings(every, once, ctx.bus_url, role, follow_wait, http=not no_http)
        run_service(service, settings, stop)


def _check_roles(ctx: Context, followers_only: bool, commands_only: bool, processes: int) -> None:
    """Which part of the service a process runs: the combinations that make no sense."""
    if followers_only and commands_only:
        raise click.UsageError("--followers-only and --commands-only exclude each other")
    if (followers_only or commands_only) and processes > 1:
        raise click.UsageError("--processes starts its own followers and command workers; give it alone")
    if (commands_only or processes > 1) and ctx.bus_url == "local":
        option = "--commands-only" if commands_only else "--processes"
        raise click.UsageError(f"{option} takes commands from a broker: give --bus URL (or BOOKIT_BUS)")


@main.command()
@click.option("--days", type=int, default=7, show_default=True)
@click.option("--venues", type=int, default=3, show_default=True)
@click.option("--seed", type=int, default=7, show_default=True)
@click.option(
    "--check-in-minutes",
    type=click.IntRange(1, 1440),
    default=None,
    help="Venues ask for check-in; some owners do not turn up (no-shows are released).",
)
@pass_ctx
def demo(ctx: Context, days: int, venues: int, seed: int, check_in_minutes: int | None) -> None:
    """A simulated busy week with a fake clock, then a summary."""
    from bookit.demo.simulation import Simulation

    sim = Simulation(ctx.home, venues=venues, days=days, seed=seed, check_in_minutes=check_in_minutes)
    with click.progressbar(length=sim.total_steps, label="simulating", file=_progress_stream()) as bar:
        summary = sim.run(progress=bar.update)
    ctx.emit(summary, "\n".join(f"{k:>22}: {v}" for k, v in summary.items()))
