"""Disputes answered from the record: `history`, `show` (now or `--as-of`), `explain`, `check`.

Each command imports `bookit.audit` inside its function (see context.py: starting fast).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from bookit.entrypoints.cli.context import Context, main, pass_ctx
from bookit.errors import BadInput, shown

if TYPE_CHECKING:
    from datetime import datetime


@main.command()
@click.argument("ident", metavar="ID")
@click.option("--emails", is_flag=True, help="Weave in every email sent or refused about it.")
@pass_ctx
def history(ctx: Context, ident: str, emails: bool) -> None:
    """The story of ID (a booking, a waitlist entry or a waitlist slot), every event in order."""
    from bookit import audit

    found = audit.history(ctx.service, ident, emails=emails)
    for step in found.steps:
        if found.subject.kind == audit.BOOKING:
            line = (
                f"{step['at']}\t{step['topic']}\tby {step['actor']}\tcommand {step['command_id']}\t"
                + json.dumps(step["data"], sort_keys=True)
            )
        else:
            line = f"{step['at']}\t{step['text']}\tby {step['actor']}"
            if found.subject.kind == audit.SLOT:
                line += f"\t| {step['queue']}"
        lines = [line] + [audit.history_email_line(e) for e in step.get("emails", ())]
        ctx.emit(step, "\n".join(lines))


@main.command()
@click.argument("ident", metavar="ID")
@click.option("--as-of", "as_of", default=None, metavar="INSTANT", help="ISO 8601 with offset.")
@pass_ctx
def show(ctx: Context, ident: str, as_of: str | None) -> None:
    """The state of ID (a booking or a waitlist entry), now or as it was at an instant."""
    from bookit import audit

    instant = None if as_of is None else _instant(as_of)
    if instant is None:
        row = audit.show_now(ctx.service, ident, ctx.clock())
    else:
        row = audit.as_of(ctx.service.app, ident, instant)
    ctx.emit(row, "\n".join(f"{k}: {v}" for k, v in row.items()))


@main.command()
@click.argument("entry_id", metavar="ENTRY")
@pass_ctx
def explain(ctx: Context, entry_id: str) -> None:
    """Who was ahead of ENTRY (a waitlist entry id) at each offer, and why."""
    from bookit import audit

    result = audit.explain(ctx.service, entry_id)
    ctx.emit(result, "\n".join(audit.explain_lines(result)))


def _instant(text: str) -> datetime:
    from bookit.localtime import parse_instant

    try:
        return parse_instant(text)
    except BadInput:
        raise BadInput(
            f"--as-of {shown(text)} is not an instant: use ISO 8601 with an offset, "
            "e.g. 2026-12-05T08:00:00Z",
            "bad_instant",
        ) from None


@main.command()
@pass_ctx
def check(ctx: Context) -> None:
    """The invariants of docs/design.md against the store (read-only): exit 0 when all hold, 1 with the
    events that prove each violation."""
    from bookit.audit.check import check_store
    from bookit.entrypoints.cli.operate import _progress_stream
    from bookit.whatif.history import require_store

    require_store(Path(ctx.home), ctx.store)
    service = ctx.service
    total = service.app.recorder.max_notification_id() or 0
    with click.progressbar(length=total, label="checking", file=_progress_stream()) as bar:
        problems = check_store(service.app, service.engine, progress=bar.update)
    for problem in problems:
        ctx.emit({"violation": str(problem), "event_ids": list(problem.event_ids)}, str(problem))
    if problems:
        click.echo(f"{len(problems)} violation(s) in {total} events", err=True)
        sys.exit(1)
    ctx.emit({"ok": True, "events": total}, f"every invariant holds over {total} events")
