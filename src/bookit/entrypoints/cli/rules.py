"""`bookit venue rules VENUE [--buffer-minutes N] ...`: set a venue's rules, or show them.

Only the flags given change; the rest keep their values. `none` sets a rule back to its
default (no limit). With no flags at all it prints the rules in force.
"""

from __future__ import annotations

from typing import Any

import click

from bookit.entrypoints.cli.context import Context, pass_ctx
from bookit.entrypoints.cli.venues import venue
from bookit.errors import NotFound

_CLEAR = ("none", "off")

# (flag, command field, metavar, help)
_FLAGS = (
    ("--buffer-minutes", "buffer_minutes", "N", "Minutes kept free before and after each booking."),
    ("--min-notice-minutes", "min_notice_minutes", "N", "Book at least this long before the start."),
    ("--max-advance-days", "max_advance_days", "N", "Book at most this many days ahead."),
    ("--min-duration-minutes", "min_duration_minutes", "N", "Shortest booking."),
    ("--max-duration-minutes", "max_duration_minutes", "N", "Longest booking."),
    (
        "--check-in-minutes",
        "check_in_minutes",
        "N",
        "Check in within N minutes of the start, or be released.",
    ),
    (
        "--late-cancel-minutes",
        "late_cancel_minutes",
        "N",
        "A cancellation this close to the start is a strike.",
    ),
    ("--no-show-strikes", "no_show_strikes", "N", "Strikes that suspend new bookings ..."),
    ("--strike-days", "strike_days", "D", "... when they fall within D days."),
    ("--offer-window", "offer_window", "auto|MINUTES", "How long a waitlist offer stays open."),
    ("--quiet-hours", "quiet_hours", "HH:MM-HH:MM", "When waitlist offers wait (venue's zone)."),
    ("--offer-mode", "offer_mode", "one|batch:N|all", "How many in line are offered at once."),
)


def _with_rule_flags(f: Any) -> Any:
    for flag, dest, metavar, text in reversed(_FLAGS):
        f = click.option(flag, dest, default=None, metavar=metavar, help=f"{text} ('none' clears)")(f)
    for flag, dest, metavar in (
        ("--quota-hours", "quota_hours", "H/PERIOD"),
        ("--quota-bookings", "quota_bookings", "N/PERIOD"),
    ):
        f = click.option(
            flag,
            dest,
            multiple=True,
            metavar=metavar,
            help="Per user; PERIOD is day, week or month (repeatable; 'none' clears).",
        )(f)
    return f


@venue.command("rules")
@click.argument("venue_id", metavar="VENUE")
@click.option("--user", default=None, help="The admin setting the rules (the local operator if left out).")
@_with_rule_flags
@pass_ctx
def venue_rules(ctx: Context, venue_id: str, user: str | None, **given: Any) -> None:
    """Set the rules of VENUE (its id; admins only), or print the rules in force."""
    from bookit.aggregates.base import SYSTEM
    from bookit.projections import queries

    changes: dict[str, Any] = {}
    for name, value in given.items():
        if value is None or value == ():
            continue
        if isinstance(value, tuple):
            changes[name] = None if any(v.lower() in _CLEAR for v in value) else list(value)
        else:
            changes[name] = None if value.lower() in _CLEAR else value
    if not changes:
        row = queries.rules_of(ctx.read_models, venue_id)
        if row is None:
            raise NotFound("venue", venue_id)
        _show(
            ctx,
            {"venue_id": venue_id, "rules": row["rules"], "set_at": row["set_at"], "set_by": row["set_by"]},
        )
        return
    result = ctx.send("SetVenueRules", actor=user or SYSTEM, venue_id=venue_id, **changes)
    _show(ctx, result)


def _show(ctx: Context, result: dict[str, Any]) -> None:
    def human() -> None:
        from bookit.aggregates.venue_rules import VenueRules

        if "changed" in result:
            click.echo(f"changed: {', '.join(result['changed']) or 'nothing'}")
        for name, value in VenueRules.from_dict(result["rules"]).lines():
            click.echo(f"{name}\t{value}")

    ctx.emit(result, human)


@venue.command("history")
@click.argument("venue_id", metavar="VENUE")
@pass_ctx
def venue_history(ctx: Context, venue_id: str) -> None:
    """Every event of VENUE (its id) in order: who registered it, who changed which rule, when."""
    from bookit.projections import queries

    rows = queries.venue_history(ctx.read_models, venue_id)
    if not rows:
        raise NotFound("venue", venue_id)
    for row in rows:
        changed = ", ".join(row["data"].get("changed", []))
        ctx.emit(row, f"{row['at']}\t{row['topic']}\tby {row['actor']}\t{changed}")
