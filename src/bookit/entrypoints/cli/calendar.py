"""`bookit calendar`: a user's live bookings as one iCalendar feed (RFC 5545) on stdout."""

from __future__ import annotations

import click

from bookit.entrypoints.cli.context import Context, main, pass_ctx


@main.command()
@click.option("--user", required=True)
@pass_ctx
def calendar(ctx: Context, user: str) -> None:
    """Your booked and confirmed bookings as one VCALENDAR, to import or subscribe to."""
    from bookit.calendar_feed import user_feed

    feed = user_feed(ctx.read_models, user)
    ctx.emit({"user": user.lower(), "calendar": feed}, lambda: click.echo(feed, nl=False))
