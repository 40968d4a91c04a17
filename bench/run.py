"""`make bench`: how fast BookIT is, how it grows, and how close it gets to its store's own limit.

    .venv/bin/python bench/run.py            quick sizes (a few minutes on two cores)
    .venv/bin/python bench/run.py --full     the sizes of the issue (100k bookings, a month of 50 venues)
    .venv/bin/python bench/run.py --smoke    tiny sizes: proves every scenario runs (the test suite)

Each scenario runs in a fresh process, so its peak RSS is its own. Results go to stdout as a
table and to bench/results.json (`--out` elsewhere). bench/README.md says what each figure means.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
import traceback
from importlib import import_module
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
MARK = "BENCH-RESULT "

SIZES: dict[str, dict[str, Any]] = {
    "smoke": {
        "raw_floor": {"aggregates": 30, "read_passes": 1},
        "commands": {"venues": 1, "book": 6, "confirm": 3, "cancel": 2},
        "rules": {"venues": 1, "book": 6, "users": 3, "rounds": 1},
        "crud_peer": {"venues": 1, "book": 6, "follow_every": 3},
        "worker": {"venues": 1, "book": 6, "confirm": 3, "cancel": 2},
        "tick": [
            {"future": 20, "due": 10, "due_groups": 1, "idle_ticks": 2},
            {"future": 40, "due": 10, "due_groups": 1, "idle_ticks": 2},
        ],
        "tick_growth": {"small": 20, "large": 40, "due": 10, "rounds": 2},
        "replay": {"events": 300},
        "check": {"events": 300},
        "snapshots": {"histories": [100, 200], "repeats": 2},
        "month": {"venues": 1, "days": 1, "tick_minutes": 30},
        "whatif": {"venues": 1, "days": 1, "tick_minutes": 30},
        "cli_startup": {"venues": 2, "runs": 2},
        "memory": {"venues": 2, "first": 20, "total": 60},
        "scale": [{"workers": 1, "commands": 10, "venues": 2}, {"workers": 2, "commands": 10, "venues": 2}],
        "api": {"venues": 1, "book": 5, "reads": 20},
        "observed": {"venues": 1, "book": 6, "rounds": 1},
    },
    "quick": {
        "raw_floor": {"aggregates": 1000, "read_passes": 3},
        "commands": {"venues": 5, "book": 150, "confirm": 75, "cancel": 40},
        "rules": {"venues": 5, "book": 100, "users": 30, "rounds": 3},
        "crud_peer": {"venues": 5, "book": 150, "follow_every": 50},
        "worker": {"venues": 5, "book": 150, "confirm": 75, "cancel": 40},
        "tick": [
            {"future": 1_000, "due": 100, "due_groups": 2, "idle_ticks": 20},
            {"future": 10_000, "due": 100, "due_groups": 2, "idle_ticks": 20},
        ],
        "tick_growth": {"small": 1_000, "large": 10_000, "due": 100, "rounds": 6},
        "replay": {"events": 10_000},
        "check": {"events": 10_000},
        "snapshots": {"histories": [100, 1000, 5000], "repeats": 5},
        "month": {"venues": 4, "days": 2, "tick_minutes": 1},
        "whatif": {"venues": 4, "days": 2, "tick_minutes": 1},
        "cli_startup": {"venues": 5, "runs": 10},
        "scale": [{"workers": w, "commands": 300, "venues": 30} for w in (1, 2, 4)],
        "memory": {"venues": 20, "first": 1_000, "total": 5_000},
        "api": {"venues": 5, "book": 150, "reads": 1000},
        "observed": {"venues": 5, "book": 150, "rounds": 4},
    },
    "full": {
        "raw_floor": {"aggregates": 5000, "read_passes": 3},
        "commands": {"venues": 20, "book": 1000, "confirm": 500, "cancel": 300},
        "rules": {"venues": 20, "book": 400, "users": 100, "rounds": 3},
        "crud_peer": {"venues": 20, "book": 1000, "follow_every": 50},
        "worker": {"venues": 20, "book": 1000, "confirm": 500, "cancel": 300},
        "tick": [
            {"future": 1_000, "due": 100, "due_groups": 5, "idle_ticks": 20},
            {"future": 10_000, "due": 100, "due_groups": 5, "idle_ticks": 20},
            {"future": 100_000, "due": 100, "due_groups": 5, "idle_ticks": 20},
        ],
        "tick_growth": {"small": 1_000, "large": 100_000, "due": 100, "rounds": 6},
        "replay": {"events": 120_000},
        "check": {"events": 120_000},
        "snapshots": {"histories": [100, 1000, 5000, 10000], "repeats": 20},
        "month": {"venues": 50, "days": 30, "tick_minutes": 1},
        "whatif": {"venues": 50, "days": 30, "tick_minutes": 1},
        "cli_startup": {"venues": 5, "runs": 10},
        "scale": [{"workers": w, "commands": 3000, "venues": 100} for w in (1, 2, 4)],
        "memory": {"venues": 100, "first": 10_000, "total": 100_000},
        "api": {"venues": 20, "book": 1000, "reads": 5000},
        "observed": {"venues": 20, "book": 1000, "rounds": 4},
    },
}

MODULES = {
    "raw_floor": "raw_floor",
    "commands": "throughput",
    "rules": "rules",
    "crud_peer": "crud_peer",
    "worker": "worker",
    "tick": "ticks",
    "tick_growth": "tick_growth",
    "replay": "replay",
    "check": "check",
    "snapshots": "snapshots",
    "month": "month",
    "whatif": "whatif",
    "cli_startup": "cli_startup",
    "scale": "scale",
    "memory": "memory",
    "api": "api",
    "observed": "observed",
}
# Scenarios that also run on PostgreSQL when it is reachable; the rest measure the embedded store.
ON_POSTGRES = {
    "smoke": (),
    "quick": ("raw_floor", "commands", "rules", "crud_peer", "worker", "check", "scale"),
    "full": ("raw_floor", "commands", "rules", "crud_peer", "worker", "tick", "replay", "check", "scale"),
}
# Scenarios that need a server store: several worker processes on one database and one broker.
POSTGRES_ONLY = {"scale"}
SCENARIOS = tuple(MODULES)


def jobs(mode: str, stores: list[str], only: set[str]) -> list[tuple[str, str, dict[str, Any]]]:
    out = []
    for store in stores:
        for name in SCENARIOS:
            if (only and name not in only) or (store != "sqlite" and name not in ON_POSTGRES[mode]):
                continue
            if store == "sqlite" and name in POSTGRES_ONLY:
                continue
            sizes = SIZES[mode][name]
            for size in sizes if isinstance(sizes, list) else [sizes]:
                out.append((name, store, size))
    # The floors first: every other figure is read against them.
    return sorted(out, key=lambda job: job[0] != "raw_floor")


def run_child(name: str, store: str, size: dict[str, Any], timeout: float | None) -> dict[str, Any]:
    command = [
        sys.executable,
        str(HERE / "run.py"),
        "--child",
        name,
        "--store",
        store,
        "--size",
        json.dumps(size),
    ]
    started = time.perf_counter()
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout:.0f}s"}
    for line in reversed(done.stdout.splitlines()):
        if line.startswith(MARK):
            return dict(json.loads(line[len(MARK) :]))
    tail = (done.stderr or done.stdout).strip().splitlines()[-5:]
    return {"error": f"exit {done.returncode}: " + " | ".join(tail), "wall_s": time.perf_counter() - started}


def child(name: str, store: str, size: dict[str, Any]) -> None:
    """Run one scenario in this (fresh) process and print its result as one marked JSON line."""
    import resource

    sys.path.insert(0, str(HERE))
    started = time.perf_counter()
    try:
        result = import_module(MODULES[name]).run(store, size)
    except Exception as error:
        traceback.print_exc()
        result = {"error": f"{type(error).__name__}: {error}", "params": size}
    result["wall_s"] = time.perf_counter() - started
    result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(MARK + json.dumps(result, default=str), flush=True)


# Ratios and goals, all computed against the floor measured in the same run


def add_ratios(entry: dict[str, Any], floors: dict[str, dict[str, float]]) -> None:
    floor = floors.get(entry["store"]) or {}
    figures = entry.get("figures") or {}
    if not figures or (not floor and entry["name"] not in ("cli_startup", "observed")):
        return
    gcs, read = floor.get("get_command_save_per_s", 0.0), floor.get("read_decode_per_s", 0.0)
    ratios: dict[str, float] = {}
    if entry["name"] in ("commands", "crud_peer", "worker", "scale"):
        ratios = {k: v / gcs for k, v in figures.items()}
    elif entry["name"] == "rules":
        # Issue 12: against the same run's booking rate without rules (and both against the floor).
        ratios = {k: v / gcs for k, v in figures.items()}
        ratios["all_rules_over_no_rules"] = figures["book_all_rules_per_s"] / figures["book_no_rules_per_s"]
    elif entry["name"] == "tick":
        due = entry["params"]["due"]
        ratios["tick_due_items_per_s"] = due / (figures["tick_due_ms"] / 1000) / gcs
        ratios["tick_nothing_due_in_raw_commands"] = figures["tick_nothing_due_ms"] / 1000 * gcs
    elif entry["name"] == "tick_growth":
        # Processes, not store operations: the large store's due tick over the small one's.
        for kind in ("due_ms", "due_cpu_ms"):
            ratios[f"large_over_small_{kind}"] = figures[f"large_{kind}"] / figures[f"small_{kind}"]
        entry["ratios"] = ratios
        return
    elif entry["name"] == "replay":
        ratios["replay_events_per_s"] = figures["replay_events_per_s"] / read
    elif entry["name"] == "check":
        ratios["check_events_per_s"] = figures["check_events_per_s"] / read
    elif entry["name"] == "snapshots":
        ratios = {k: v / 1000 * gcs for k, v in figures.items()}  # one load, in raw commands
    elif entry["name"] == "cli_startup":
        # Processes, not store operations: each command over the library it stands on.
        ratios["bookit_help_ms"] = figures["bookit_help_ms"] / figures["python_import_click_ms"]
        ratios["bookit_venue_list_ms"] = (
            figures["bookit_venue_list_ms"] / figures["python_import_sqlalchemy_ms"]
        )
        entry["ratios"] = ratios
        return
    elif entry["name"] == "memory":
        ratios["commands_per_s"] = figures["commands_per_s"] / gcs
    elif entry["name"] == "api":
        # The floor here is the same work in-process, measured alongside (see bench/api.py).
        ratios["api_book_per_s"] = figures["api_book_per_s"] / figures["direct_book_per_s"]
        ratios["api_show_per_s"] = figures["api_show_per_s"] / figures["direct_show_per_s"]
        entry["ratios"] = ratios
        return
    elif entry["name"] == "observed":
        # Issue 26: against the same run's rate with metrics and JSON logging off.
        ratios["on_over_off"] = figures["commands_on_per_s"] / figures["commands_off_per_s"]
        entry["ratios"] = ratios
        return
    elif entry["name"] == "whatif":
        # Each recorded action or tick the replay re-ran, against the raw get+command+save rate.
        replayed = figures["actions"] + figures["ticks"]
        ratios["replayed_per_s_in_raw_commands"] = replayed / figures["baseline_wall_s"] / gcs
    elif entry["name"] == "month":
        ratios["ticks_per_s_in_raw_commands"] = entry["params"]["ticks"] / figures["wall_s"] / gcs
    entry["ratios"] = ratios


def goals(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []

    def goal(what: str, store: str, value: float | None, target: str, met: bool | None) -> None:
        out.append({"goal": what, "store": store, "value": value, "target": target, "met": met})

    for e in entries:
        ratios, store = e.get("ratios") or {}, e["store"]
        if e["name"] in ("commands", "worker"):
            for key, value in ratios.items():
                # Issue 15: a command that owes no email at half the store's floor; one that
                # owes an email (counted until it is delivered) at 0.3.
                target = 0.5 if key.startswith("confirm") else 0.3
                where = "local" if e["name"] == "commands" else "worker"
                goal(f"{where} {key} / raw get+command+save", store, value, f">= {target}", value >= target)
        if e["name"] == "observed" and ratios:
            value = ratios["on_over_off"]
            goal("commands with metrics + JSON logs / with both off", store, value, ">= 0.9", value >= 0.9)
        if e["name"] == "rules" and ratios:
            value = ratios["all_rules_over_no_rules"]
            goal("book with every venue rule on / book with none", store, value, ">= 0.8", value >= 0.8)
        if e["name"] == "tick" and ratios:
            value = ratios["tick_due_items_per_s"]
            what = f"tick due items/s / raw get+command+save, {e['params']['future']} future"
            goal(what, store, value, ">= 0.3", value >= 0.3)
        if e["name"] == "tick_growth" and ratios:
            p = e["params"]
            for kind in ("due_ms", "due_cpu_ms"):
                value = ratios[f"large_over_small_{kind}"]
                what = f"tick {kind}, {p['large']} / {p['small']} future, alternating in one process"
                goal(what, store, value, "<= 1.2", value <= 1.2)
        if e["name"] == "api" and ratios:
            what = "POST /api/bookings / service.bus.handle(BookVenue)"
            goal(what, store, ratios["api_book_per_s"], ">= 0.7", ratios["api_book_per_s"] >= 0.7)
            what = "GET /api/bookings/{id} / queries.booking (in-process)"
            goal(what, store, ratios["api_show_per_s"], ">= 0.7", ratios["api_show_per_s"] >= 0.7)
        if e["name"] == "whatif" and e.get("figures"):
            figures, p = e["figures"], e["params"]
            what = f"whatif simulated days/s, {p['venues']} venues x {p['days']} days (goal at full size)"
            value = figures["baseline_simulated_days_per_s"]
            goal(what, store, value, ">= 0.5", value >= 0.5)
            same = figures["baseline_equals_history"]
            goal("whatif with unchanged rules equals history", store, float(same), "== 1", bool(same))
        if e["name"] == "replay" and ratios:
            value = ratios["replay_events_per_s"]
            goal("replay events/s / raw read+decode", store, value, ">= 0.33", value >= 1 / 3)
        if e["name"] == "check" and ratios:
            value = ratios["check_events_per_s"]
            goal("bookit check events/s / raw read+decode", store, value, ">= 0.25", value >= 0.25)
        if e["name"] == "cli_startup" and ratios:
            value = ratios["bookit_help_ms"]
            goal(
                "bookit --help / python -c 'import click' (median of runs)", store, value, "<= 2", value <= 2
            )
            value = ratios["bookit_venue_list_ms"]
            what = "bookit venue list / python -c 'import sqlalchemy'"
            goal(what, store, value, "<= 1.5", value <= 1.5)
        if e["name"] == "memory" and e.get("figures"):
            p = e["params"]
            value = e["figures"]["growth_mb"]
            goal(
                f"worker RSS growth, {p['first']} -> {p['total']} commands (MB)",
                store,
                value,
                "<= 20",
                value <= 20,
            )
        if e["name"] == "snapshots":
            figures, histories = e.get("figures") or {}, e["params"]["histories"]
            for kind in ("venue_day", "waitlist"):
                first, last = (figures.get(f"{kind}_{h}_with_ms") for h in (histories[0], histories[-1]))
                growth = last / first if first and last else None
                what = f"{kind} load with snapshots, {histories[-1]} / {histories[0]} events"
                goal(what, store, growth, "<= 2", None if growth is None else growth <= 2)
    for store in sorted({e["store"] for e in entries}):
        _against_crud(goal, entries, store)
        _scaling(goal, entries, store)
        ticks = sorted(
            (e for e in entries if e["name"] == "tick" and e["store"] == store and e.get("figures")),
            key=lambda e: e["params"]["future"],
        )
        if len(ticks) >= 2:
            small, large = ticks[0], ticks[-1]
            scale = f"{large['params']['future']} / {small['params']['future']} future bookings"
            for key in ("tick_due_ms", "tick_nothing_due_ms", "tick_due_cpu_ms", "tick_nothing_due_cpu_ms"):
                value = large["figures"][key] / small["figures"][key]
                goal(f"{key}, {scale}", store, value, "<= 1.2", value <= 1.2)
    return out


def _against_crud(goal: Any, entries: list[dict[str, Any]], store: str) -> None:
    """BookIT's booking rate over the CRUD peer's, each in the same shape: command by command
    with followers after each (local mode), and batched (the worker)."""
    figures = {
        e["name"]: e.get("figures") or {} for e in entries if e["store"] == store and not e.get("error")
    }
    crud = figures.get("crud_peer")
    if not crud:
        return
    pairs = [
        ("commands", "book_per_s", "book_per_s", "local book"),
        ("worker", "book_per_s", "book_batched_per_s", "worker book"),
        ("worker", "book_split_per_s", "book_batched_per_s", "split worker book (--processes 2)"),
    ]
    for bookit_name, bookit_key, crud_key, what in pairs:
        ours = figures.get(bookit_name, {}).get(bookit_key)
        if ours is None or crud_key not in crud:
            continue
        value = ours / crud[crud_key]
        goal(f"BookIT {what} / CRUD peer {crud_key}", store, value, ">= 1.0", value >= 1.0)


def _scaling(goal: Any, entries: list[dict[str, Any]], store: str) -> None:
    """Commands/s with N workers on one database over commands/s with one: reported, no target
    (the event store's table lock is expected to cap it; `waits` says where the time goes)."""
    runs = {
        e["params"]["workers"]: e["figures"]["commands_per_s"]
        for e in entries
        if e["name"] == "scale" and e["store"] == store and e.get("figures")
    }
    for workers, value in sorted(runs.items()):
        goal(f"scale: {workers} worker(s), commands/s", store, value, "report", None)
        if workers > 1 and 1 in runs:
            goal(f"scale: {workers} workers / 1 worker", store, value / runs[1], "report", None)


# Output


def show(entry: dict[str, Any]) -> None:
    head = f"{entry['name']:<10} {entry['store']:<10}"
    if entry["name"] == "tick":
        head = f"{'tick ' + str(entry['params']['future']):<10} {entry['store']:<10}"
    if entry["name"] == "scale":
        head = f"{'scale ' + str(entry['params']['workers']) + 'w':<10} {entry['store']:<10}"
    if entry.get("error"):
        print(f"{head} ERROR {entry['error']}", flush=True)
        return
    ratios = entry.get("ratios") or {}
    for n, (key, value) in enumerate((entry.get("figures") or {}).items()):
        ratio = f"{ratios[key]:>8.3f}" if key in ratios else " " * 8
        memory = f"{entry['peak_rss_mb']:>7.0f} MB  {entry['wall_s']:>6.1f} s" if n == 0 else ""
        print(f"{head if n == 0 else ' ' * 21} {key:<32} {value:>12.2f} {ratio}  {memory}", flush=True)
    for key, value in ratios.items():
        if key not in (entry.get("figures") or {}):
            print(f"{' ' * 21} {'(ratio) ' + key:<32} {'':>12} {value:>8.3f}", flush=True)
    for what, share in (entry.get("waits") or {}).items():
        print(f"{' ' * 21} {'(busy sessions) ' + what:<45} {share:>8.3f}", flush=True)
    for error in entry.get("errors") or ():
        print(f"{' ' * 21} ERROR {error}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sizes = parser.add_mutually_exclusive_group()
    sizes.add_argument("--full", action="store_true", help="the full sizes (slow)")
    sizes.add_argument("--smoke", action="store_true", help="tiny sizes, to prove every scenario runs")
    parser.add_argument("--out", type=Path, default=HERE / "results.json", help="where to write the JSON")
    parser.add_argument("--only", default="", help=f"comma-separated subset of {','.join(SCENARIOS)}")
    parser.add_argument(
        "--stores", default="", help="sqlite,postgresql (default: sqlite, plus PostgreSQL if reachable)"
    )
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--store", help=argparse.SUPPRESS)
    parser.add_argument("--size", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.store, json.loads(args.size))
        return

    sys.path.insert(0, str(HERE))
    from common import postgres_reachable

    mode = "full" if args.full else "smoke" if args.smoke else "quick"
    stores = [s for s in args.stores.split(",") if s] or ["sqlite"]
    if not args.stores and mode != "smoke" and postgres_reachable():
        stores.append("postgresql")
    only = {s for s in args.only.split(",") if s}
    print(
        f"BookIT benchmarks ({mode}) on {', '.join(stores)}; ratio = figure / raw floor, same run", flush=True
    )
    columns = ("scenario", "store", "figure", "value", "ratio", "peak RSS", "wall")
    print("{:<10} {:<10} {:<32} {:>12} {:>8}  {:>10}  {:>6}".format(*columns))
    entries: list[dict[str, Any]] = []
    floors: dict[str, dict[str, float]] = {}
    started = time.time()
    for name, store, size in jobs(mode, stores, only):
        entry = {"name": name, "store": store, "params": size} | run_child(name, store, size, None)
        if name == "raw_floor" and entry.get("figures"):
            floors[store] = entry["figures"]
        add_ratios(entry, floors)
        entries.append(entry)
        show(entry)
    results = {
        "meta": {
            "mode": mode,
            "stores": stores,
            "started_at": time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(started)),
            "total_s": round(time.time() - started, 1),
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "load_avg_at_end": os.getloadavg(),
        },
        "scenarios": entries,
        "goals": goals(entries),
    }
    print("\ngoals")
    for g in results["goals"]:
        verdict = {True: "met", False: "NOT MET", None: "unmeasured" if g["value"] is None else "info"}[
            g["met"]
        ]
        value = "-" if g["value"] is None else f"{g['value']:.3f}"
        print(f"  {verdict:<10} {g['store']:<10} {g['goal']:<60} {value:>8} (goal {g['target']})")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2, default=str) + "\n")
    print(f"\nwritten to {args.out} in {results['meta']['total_s']} s")


if __name__ == "__main__":
    main()
