"""`bookit check-in` and `bookit strikes [clear|waive]` (DESIGN rule 14)."""

from __future__ import annotations

from typing import Any

import click

from bookit.entrypoints.cli.context import Context, main, pass_ctx
from bookit.errors import BadInput


@main.command("check-in")
@click.argument("booking_id", metavar="BOOKING")
@click.option("--user", required=True)
@pass_ctx
def check_in(ctx: Context, booking_id: str, user: str) -> None:
    """Check in to BOOKING (its id): from its start until the venue's check-in minutes after it."""
    result = ctx.send("CheckIn", actor=user, booking_id=booking_id)
    ctx.emit(result, f"{result['booking_id']}\tchecked in")


def _strike_line(row: dict[str, Any]) -> str:
    reason = {"no_show": "no-show", "late_cancel": "late cancellation"}.get(row["reason"], row["reason"])
    state = row["status"] if row["status"] != "active" else ("counts" if row["counts"] else "aged out")
    by = f" by {row['changed_by']}" if row["changed_by"] else ""
    return f"{row['at']}\t{row['venue_id']}\t{reason}\t{state}{by}\tbooking {row['booking_id']}"


@main.group(invoke_without_command=True)
@click.option("--user", default=None, metavar="EMAIL", help="Whose strikes to list: their email address.")
@click.option("--venue", "venue_id", default=None, metavar="VENUE", help="Only at this venue (its id).")
@click.pass_context
def strikes(click_ctx: click.Context, user: str | None, venue_id: str | None) -> None:
    """List a user's strikes (no-shows, late cancellations) with their causes."""
    if click_ctx.invoked_subcommand is not None:
        return
    ctx = click_ctx.find_object(Context)
    assert ctx is not None
    if not user:
        raise BadInput("--user is required to list strikes", "bad_input")
    from bookit.projections import queries

    rows = queries.strikes_of(ctx.read_models, user, ctx.clock(), venue_id)
    for row in rows:
        ctx.emit(row, _strike_line(row))
    for venue, until in sorted({(r["venue_id"], r["suspended_until"]) for r in rows if r["suspended_until"]}):
        if not ctx.as_json:
            click.echo(f"suspended at {venue} until {until}")
    if not rows and not ctx.as_json:
        click.echo("no strikes")


@strikes.command("clear")
@click.option("--user", required=True, help="Whose strikes to clear.")
@click.option("--venue", "venue_id", default=None, help="Only at this venue (all venues if left out).")
@click.option("--by", "admin", default=None, help="The admin clearing them (the local operator if left out).")
@pass_ctx
def strikes_clear(ctx: Context, user: str, venue_id: str | None, admin: str | None) -> None:
    """Clear a user's strikes, which ends a suspension (admins only)."""
    from bookit.aggregates.base import SYSTEM
    from bookit.projections import queries

    if venue_id:
        venues = [venue_id]
    else:
        # The read model nominates the venues; each record decides what it clears.
        venues = sorted({row["venue_id"] for row in queries.strikes_of(ctx.read_models, user, ctx.clock())})
    for venue in venues:
        result = ctx.send("ClearStrikes", actor=admin or SYSTEM, user=user, venue_id=venue)
        ctx.emit(result, f"{result['venue_id']}\t{result['cleared']} strikes cleared for {result['user']}")
    if not venues and not ctx.as_json:
        click.echo("no strikes to clear")


@strikes.command("waive")
@click.argument("booking_id", metavar="BOOKING")
@click.option("--by", "admin", default=None, help="The admin waiving it (the local operator if left out).")
@pass_ctx
def strikes_waive(ctx: Context, booking_id: str, admin: str | None) -> None:
    """Waive the strike BOOKING (its id) earned (admins only); the booking's history shows it."""
    from bookit.aggregates.base import SYSTEM

    result = ctx.send("WaiveStrike", actor=admin or SYSTEM, booking_id=booking_id)
    ctx.emit(result, f"{result['booking_id']}\tstrike waived")
