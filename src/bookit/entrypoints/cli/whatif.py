"""`bookit whatif`: what would have happened under other rules, from the recorded history.

The real store (`--home`/`--store`) is opened to read only; the actions are re-run on a
scratch store (`bookit.whatif`), and actual and what-if are printed side by side.
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Any

import click

from bookit.entrypoints.cli.context import Context, main, pass_ctx

SHOWN_NOT_APPLYING = 20


@main.command()
@click.argument("changes", nargs=-1, metavar="RULE=VALUE...")
@click.option("--from", "first", default=None, help="First slot date counted (YYYY-MM-DD).")
@click.option("--to", "last", default=None, help="Last slot date counted (YYYY-MM-DD).")
@click.option("--venue", default=None, help="Only this venue's history.")
@click.option(
    "--tick-slack",
    type=click.IntRange(0, 1440),
    default=15,
    show_default=True,
    help="Minutes the service may tick after a due instant (how late history's ticks came).",
)
@click.option("--json", "as_json", is_flag=True, help="One JSON object.")
@pass_ctx
def whatif(
    ctx: Context,
    changes: tuple[str, ...],
    first: str | None,
    last: str | None,
    venue: str | None,
    tick_slack: int,
    as_json: bool,
) -> None:
    """Re-run the recorded actions under RULE=VALUE... (e.g. cancel_lead_minutes=180
    offer_window=auto offer_mode=batch:3) on a scratch store; the real store is only read."""
    from bookit.config import Rules
    from bookit.localtime import parse_date
    from bookit.whatif.changes import parse_changes
    from bookit.whatif.history import open_store, read_history
    from bookit.whatif.outcomes import Scope, compare, outcome_of
    from bookit.whatif.replay import replay

    parsed = parse_changes(changes)
    scope = Scope(venue, parse_date(first) if first else None, parse_date(last) if last else None)
    until = None
    if scope.last is not None:  # nothing after the day after the last date can touch its slots
        until = datetime.combine(scope.last + timedelta(days=2), time(0), tzinfo=UTC)
    real = open_store(ctx.home, ctx.store)
    try:
        history = read_history(real, venue)
        with _progress(len([a for a in history.actions if until is None or a.at < until])) as bar:
            run = replay(
                history,
                parsed,
                Rules.from_env(),
                until=until,
                tick_slack=timedelta(minutes=tick_slack),
                progress=bar,
            )
        try:
            actual = outcome_of(real, _read_only_engine(ctx), scope)
            imagined = outcome_of(run.service.app, run.service.engine, scope)
        finally:
            emails = dict(run.outbox.kinds)
            not_applying = [(a.label(), why) for a, why in run.no_longer_apply]
            ticks, actions = run.ticks, run.actions
            run.close()
    finally:
        real.close()
    report: dict[str, Any] = {
        "changes": list(changes),
        "scope": {"venue": venue, "from": first, "to": last},
        **compare(actual, imagined),
        "no_longer_apply": [{"action": label, "refused": why} for label, why in not_applying],
        "emails_counted_not_sent": emails,
        "replayed": {"actions": actions, "ticks": ticks},
    }
    if as_json or ctx.as_json:
        click.echo(json.dumps(report, sort_keys=True))
        return
    click.echo(_human(report, str(parsed)))


def _human(report: dict[str, Any], changes: str) -> str:
    rows = report["figures"]
    width = max(len(r["figure"]) for r in rows)
    lines = [f"what if: {changes}", f"{'':{width}}  {'actual':>10}  {'what-if':>10}  {'change':>8}"]
    lines += [f"{r['figure']:{width}}  {r['actual']:>10}  {r['whatif']:>10}  {r['change']:>+8}" for r in rows]
    for name, people in report["affected"].items():
        if people:
            lines.append(f"{name.replace('_', ' ')} ({len(people)}): " + "; ".join(people[:10]))
            if len(people) > 10:
                lines[-1] += f"; ... {len(people) - 10} more (--json lists all)"
    gone = report["no_longer_apply"]
    lines.append(f"actions that no longer apply: {len(gone)}")
    lines += [f"  {g['action']}: {g['refused']}" for g in gone[:SHOWN_NOT_APPLYING]]
    if len(gone) > SHOWN_NOT_APPLYING:
        lines.append(f"  ... {len(gone) - SHOWN_NOT_APPLYING} more (--json lists all)")
    counted = report["emails_counted_not_sent"]
    lines.append(f"emails: {sum(counted.values())} counted in the what-if, none sent")
    return "\n".join(lines)


class _progress:
    """A progress bar on a terminal only; piped output stays clean for machines."""

    def __init__(self, length: int) -> None:
        self.bar = (
            click.progressbar(length=length, label="replaying", file=sys.stderr)
            if sys.stderr.isatty()
            else None
        )

    def __enter__(self) -> Any:
        if self.bar is None:
            return None
        return self.bar.__enter__().update

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.__exit__(*exc)  # type: ignore[arg-type]


def _read_only_engine(ctx: Context) -> Any:
    from sqlalchemy import create_engine

    from bookit.bootstrap import store_env

    _, url = store_env(Path(ctx.home), ctx.store)
    if url.startswith("sqlite:///"):
        url = f"sqlite:///file:{url.removeprefix('sqlite:///')}?mode=ro&uri=true"
    return create_engine(url)
