"""`bookit simulate`: the same seeded demand under each named offer policy, side by side.

Every policy runs on its own scratch store in a temporary directory (never `--home`: DESIGN
rule 18), with a counting outbox, and the figures are read back from its events and emails
(`bookit.demo.policy_metrics`). Policy names and the people model: `bookit.demo.policy_sim`.
"""

from __future__ import annotations

import json
import shlex
import shutil
import sys
from typing import Any

import click

from bookit.entrypoints.cli.context import Context, main, pass_ctx

COLUMNS = (
    ("policy", "policy", "{}"),
    ("freed_hours", "freed h", "{:.1f}"),
    ("claimed_share", "claimed", "{:.1%}"),
    ("median_minutes_to_claim", "median min to claim", "{:.1f}"),
    ("offers_per_claim", "offers/claim", "{:.2f}"),
    ("emails_per_person", "emails/person", "{:.2f}"),
    ("lost_to_behind", "lost to one behind", "{:.1%}"),
)


@main.command()
@click.option(
    "--policy", "policies", required=True, help="NAME[,NAME...], e.g. today,auto,auto+batch:3,all+quiet"
)
@click.option("--days", type=click.IntRange(1, 120), default=30, show_default=True)
@click.option("--venues", type=click.IntRange(1, 200), default=20, show_default=True)
@click.option("--seed", type=int, default=7, show_default=True)
@click.option("--tick-minutes", type=click.IntRange(1, 60), default=5, show_default=True, hidden=True)
@click.option("--json", "as_json", is_flag=True, help="One JSON object: the command and a row per policy.")
@pass_ctx
def simulate(
    ctx: Context, policies: str, days: int, venues: int, seed: int, tick_minutes: int, as_json: bool
) -> None:
    """Compare waitlist offer policies on the same simulated demand (scratch stores only)."""
    from bookit.demo.policy_sim import NamedPolicy

    named = [NamedPolicy.parse(name) for name in policies.split(",") if name.strip()]
    if not named:
        raise click.BadParameter("name at least one policy", param_hint="--policy")
    command = "bookit simulate " + shlex.join(
        [
            "--policy",
            ",".join(p.name for p in named),
            "--days",
            str(days),
            "--venues",
            str(venues),
            "--seed",
            str(seed),
        ]
    )
    rows = []
    for policy in named:
        rows.append(
            {"policy": policy.name, **_run(policy, days=days, venues=venues, seed=seed, tick=tick_minutes)}
        )
    if as_json or ctx.as_json:
        click.echo(
            json.dumps({"command": command, "days": days, "venues": venues, "seed": seed, "rows": rows})
        )
        return
    click.echo(f"$ {command}")
    click.echo(render_table(rows))


def _run(policy: Any, *, days: int, venues: int, seed: int, tick: int) -> dict[str, Any]:
    from bookit.demo.policy_metrics import measure
    from bookit.demo.policy_sim import PolicySimulation
    from bookit.scratch import scratch_dir

    scratch = scratch_dir("bookit-simulate-")
    try:
        sim = PolicySimulation(scratch, policy, venues=venues, days=days, seed=seed, tick_minutes=tick)
        try:
            # A progress bar on a terminal only; piped output stays clean for machines.
            if sys.stderr.isatty():
                with click.progressbar(
                    length=sim.total_steps, label=f"{policy.name:>16}", file=sys.stderr
                ) as bar:
                    sim.run(progress=bar.update)
            else:
                sim.run()
            return measure(sim.service.app, sim.service.engine)
        finally:
            sim.close()
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def render_table(rows: list[dict[str, Any]]) -> str:
    """A Markdown table (it reads as plain text too); empty figures show as a dash."""
    head = [title for _, title, _ in COLUMNS]
    body = [
        [("-" if row.get(key) is None else form.format(row[key])) for key, _, form in COLUMNS] for row in rows
    ]
    widths = [max(len(cell) for cell in column) for column in zip(head, *body, strict=True)]
    lines = [head, ["-" * w for w in widths], *body]
    return "\n".join(
        "| " + " | ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)) + " |" for line in lines
    )
