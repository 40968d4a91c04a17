"""`bookit waitlist ...`."""

from __future__ import annotations

from collections.abc import Callable

import click

from bookit.entrypoints.cli.context import Context, main, pass_ctx

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
@click.option(
    "--priority", type=int, default=None, metavar="N", help="Admins only: -100..100, lower goes first."
)
@click.option(
    "--for", "for_user", default=None, metavar="EMAIL", help="Admins only: put this person in the queue."
)
@click.option("--name", default=None, help="The name emails greet whoever waits by (optional).")
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
    name: str | None,
) -> None:
    """Join the queue of a taken slot; when it frees up you are offered it, in turn, with a
    few minutes to claim it (`bookit waitlist claim`)."""
    result = ctx.send(
        "JoinWaitlist",
        actor=user,
        venue_id=venue_id,
        date=date,
        start=start,
        end=end,
        priority=priority,
        user=for_user,
        name=name,
    )
    ctx.emit(result, f"{result['entry_id']}\tposition {result['position']}")


def _entry_command(command: str, verb: str) -> Callable[..., None]:
    @click.argument("entry_id", metavar="ENTRY")
    @click.option("--user", required=True)
    @pass_ctx
    def run(ctx: Context, entry_id: str, user: str) -> None:
        result = ctx.send(command, actor=user, entry_id=entry_id)
        ctx.emit(result, f"{result.get('booking_id', result.get('entry_id'))}\t{verb}")

    return run


waitlist.command("claim", help="Claim the open offer of ENTRY (its id): books the slot at once.")(
    _entry_command("ClaimOffer", "claimed")
)
waitlist.command("leave", help="Leave the queue ENTRY (its id) is in; the others keep their order.")(
    _entry_command("LeaveWaitlist", "left")
)
waitlist.command("decline", help="Pass the open offer of ENTRY (its id) on at once.")(
    _entry_command("DeclineOffer", "declined")
)


@waitlist.command("mine")
@click.option("--user", required=True)
@pass_ctx
def waitlist_mine(ctx: Context, user: str) -> None:
    """Your active entries, with seconds left to claim when offered."""
    from bookit.aggregates.waitlist import OFFERED
    from bookit.projections import queries

    for row in queries.my_waitlist(ctx.read_models, user, ctx.clock()):
        left = (
            f"\toffered, {row['seconds_left']}s left"
            if row["status"] == OFFERED
            else f"\tposition {row['position']}"
        )
        ctx.emit(
            row, f"{row['entry_id']}\t{row['venue_id']}\t{row['date']}\t{row['start']}-{row['end']}{left}"
        )
