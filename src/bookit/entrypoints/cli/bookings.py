"""`bookit book`, `confirm`, `cancel`, `override`, `bookings`, `show`."""

from __future__ import annotations

from typing import Any

import click

from bookit.entrypoints.cli.context import Context, main, pass_ctx

# Bookings


@main.command()
@click.option("--user", required=True)
@click.option("--venue", "venue_id", required=True)
@click.option("--date", required=True)
@click.option("--start", required=True)
@click.option("--end", required=True)
@click.option("--purpose", default="")
@click.option("--name", default=None, help="Your name as emails greet you (optional).")
@pass_ctx
def book(
    ctx: Context, user: str, venue_id: str, date: str, start: str, end: str, purpose: str, name: str | None
) -> None:
    """Book a venue for an interval (times in the venue's own zone)."""
    result = ctx.send(
        "BookVenue",
        actor=user,
        venue_id=venue_id,
        date=date,
        start=start,
        end=end,
        purpose=purpose,
        name=name,
    )
    ctx.emit(result, f"{result['booking_id']}\t{result['status']}")


@main.command()
@click.argument("booking_id", metavar="BOOKING")
@click.option("--user", required=True)
@pass_ctx
def confirm(ctx: Context, booking_id: str, user: str) -> None:
    """Confirm BOOKING (its id, from `bookit book` or `bookit bookings`): only its owner may."""
    result = ctx.send("ConfirmBooking", actor=user, booking_id=booking_id)
    ctx.emit(result, f"{result['booking_id']}\t{result['status']}")


@main.command()
@click.argument("booking_id", metavar="BOOKING")
@click.option("--user", required=True)
@click.option("--reason", default="")
@pass_ctx
def cancel(ctx: Context, booking_id: str, user: str, reason: str) -> None:
    """Cancel BOOKING (its id): only its owner may; the freed time goes to its waitlist first."""
    result = ctx.send("CancelBooking", actor=user, booking_id=booking_id, reason=reason)
    ctx.emit(result, f"{result['booking_id']}\t{result['status']}")


@main.command()
@click.argument("booking_id", metavar="BOOKING")
@click.option("--user", required=True, metavar="EMAIL", help="The admin acting: their email address.")
@pass_ctx
def override(ctx: Context, booking_id: str, user: str) -> None:
    """Waive auto-cancellation of BOOKING (its id; admins only)."""
    result = ctx.send("WaiveAutoCancel", actor=user, booking_id=booking_id)
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
@click.option("--user", default=None, help="Only this person's bookings: their email address.")
@click.option("--venue", "venue_id", default=None, help="Only this venue's: its id, e.g. main-hall.")
@click.option("--date", default=None, help="Only this day's, in the venue's zone, e.g. 2026-12-03.")
@click.option(
    "--limit",
    type=click.IntRange(1, 500),
    default=50,
    show_default=True,
    metavar="N",
    help="At most N bookings (1-500); stderr says how to get the next page.",
)
@click.option(
    "--after", "cursor", default=None, metavar="CURSOR", help="The page after CURSOR (from stderr)."
)
@pass_ctx
def bookings(
    ctx: Context, user: str | None, venue_id: str | None, date: str | None, limit: int, cursor: str | None
) -> None:
    """Bookings in start order, a page at a time, one line each: id, status, confirmed,
    reminded, venue, date, times, owner. stderr ends with how many, and the next page's
    --after when more remain."""
    from bookit.cursors import decode, encode
    from bookit.errors import BadInput
    from bookit.projections import queries

    after = None
    if cursor is not None:
        try:
            after = decode(cursor)
        except ValueError:
            message = "--after: not a cursor bookit printed; use the one from the previous page"
            raise BadInput(message, "bad_cursor") from None
    rows = queries.booking_list(ctx.read_models, user, venue_id, date, after=after, limit=limit + 1)
    for row in rows[:limit]:
        ctx.emit(row, _booking_line(row))
    if len(rows) > limit:
        click.echo(
            f"{limit} bookings shown; the next page: --after {encode(queries.booking_key(rows[limit - 1]))}",
            err=True,
        )
    else:
        click.echo(f"{len(rows)} booking(s){' on this page, the last' if cursor else ''}", err=True)
