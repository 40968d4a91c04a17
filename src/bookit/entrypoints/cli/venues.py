"""`bookit venue ...` and `bookit admin ...`."""

from __future__ import annotations

import click

from bookit.entrypoints.cli.context import Context, main, pass_ctx

# Venues and admins


@main.group()
def venue() -> None:
    """Register and list venues."""


@venue.command("add")
@click.option("--name", required=True, help='The venue\'s name, e.g. "Main Hall" (one line).')
@click.option("--tz", required=True, help="Its IANA time zone, e.g. Europe/London.")
@click.option(
    "--id",
    "venue_id",
    default=None,
    metavar="ID",
    help='Its id: lower-case letters, digits, - and _ (default: made from the name, "Café Zoë" -> cafe-zoe).',
)
@pass_ctx
def venue_add(ctx: Context, name: str, tz: str, venue_id: str | None) -> None:
    """Register a venue (as the operator) and print its id, which every other command takes."""
    from bookit.aggregates.base import SYSTEM

    result = ctx.send("RegisterVenue", actor=SYSTEM, name=name, tz=tz, venue_id=venue_id)
    ctx.emit(result, f"venue {result['venue_id']} registered")


@venue.command("list")
@pass_ctx
def venue_list(ctx: Context) -> None:
    """Every venue: id, name and time zone, one per line."""
    from bookit.projections import queries

    for row in queries.venue_list(ctx.read_models):
        ctx.emit(row, f"{row['venue_id']}\t{row['name']}\t{row['tz']}")


@main.group()
def admin() -> None:
    """Grant the admin role."""


@admin.command("add")
@click.argument("email")
@pass_ctx
def admin_add(ctx: Context, email: str) -> None:
    """Grant EMAIL (a person's email address) the admin role (as the operator)."""
    from bookit.aggregates.base import SYSTEM

    result = ctx.send("GrantAdmin", actor=SYSTEM, email=email)
    ctx.emit(result, f"{result['admin']} is an admin")
