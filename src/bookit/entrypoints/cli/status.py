"""`bookit status`: the readiness checks and the figures of /readyz and /metrics, for a person
at a terminal (or a script: `--json`). Exit 0 when ready, 1 when not."""

from __future__ import annotations

import sys
import time

import click

from bookit.entrypoints.cli.context import Context, main, pass_ctx

LOOK_AGAIN = 1.0  # seconds between the two looks that tell a lagging follower moving from stalled


@main.command()
@pass_ctx
def status(ctx: Context) -> None:
    """Is the service ready? The store, the broker, each follower's position and lag, the oldest
    pending email, overdue timers by kind and open offers. Exit 0 ready, 1 not."""
    from bookit.observability.health import Check, Readiness, Report

    try:
        service = ctx.service
    except Exception as error:  # the store does not answer: that is the answer
        from bookit.errors import first_line

        report = Report([Check("store", False, f"the store does not answer: {first_line(error)[:200]}")])
    else:
        readiness = Readiness(service, ctx.bus_url, stall_seconds=LOOK_AGAIN)
        report = readiness.check()
        if any(c.name.startswith("follower:") and c.detail.endswith("moving") for c in report.checks):
            time.sleep(LOOK_AGAIN)  # a second look: is the lagging follower moving?
            report = readiness.check()
    ctx.emit(report.as_json(), lambda: _print(report))
    sys.exit(0 if report.ready else 1)


def _print(report: object) -> None:
    from bookit.observability.health import Report

    assert isinstance(report, Report)
    click.echo(f"ready: {'yes' if report.ready else 'NO'}")
    for check in report.checks:
        click.echo(f"  {'ok  ' if check.ok else 'FAIL'} {check.name}: {check.detail}")
    figures = report.figures
    if figures is None:
        return
    click.echo(f"events stored: {figures.last_event}")
    for name, position in figures.positions.items():
        click.echo(f"follower {name}: at {position}, lag {figures.lag[name]}")
    click.echo(f"oldest pending email: {figures.oldest_pending_seconds:.0f}s")
    overdue = ", ".join(f"{kind} {count}" for kind, count in figures.overdue.items())
    click.echo(f"overdue timers: {overdue}")
    click.echo(f"open waitlist offers: {figures.offers_open}")
