"""`bookit` starts fast: help and argument errors answer before the store, the bus or the
templates are loaded, and a local read does not load the bus, the templates or the web server.

What is checked is which modules the real executable imports (`python -X importtime`), not
how long it takes: the time is the bench's business (bench/cli_startup.py).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

BOOKIT = Path(sys.executable).with_name("bookit")
# The store (event store, SQL), the bus, the templates, the web server, the commands' validation.
HEAVY = {"sqlalchemy", "eventsourcing", "psycopg", "kombu", "jinja2", "uvicorn", "starlette", "pydantic"}
# What a read of the read models may load, and what it must not: the event store (and the
# domain, which brings it), the commands' validation, the bus, the templates, the calendar
# writer, the web server.
NOT_FOR_A_READ = {
    "eventsourcing",
    "psycopg",
    "pydantic",
    "kombu",
    "jinja2",
    "icalendar",
    "uvicorn",
    "starlette",
}
# BookIT's own modules a read needs: the command line, the read models and their queries.
A_READ_S_OWN = (
    "bookit.entrypoints",
    "bookit.projections",
    "bookit.stores",
    "bookit.errors",
    "bookit.localtime",
)


def _env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BOOKIT_")}
    return env | {"BOOKIT_HOME": str(home)}


def _bookit(home: Path, *args: str) -> tuple[subprocess.CompletedProcess[str], set[str]]:
    """Run the real executable; returns the run and the top-level packages it imported."""
    done, modules = _bookit_modules(home, *args)
    return done, {name.split(".")[0] for name in modules}


def _bookit_modules(home: Path, *args: str) -> tuple[subprocess.CompletedProcess[str], set[str]]:
    """Run the real executable; returns the run and every module it imported, by full name."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", str(BOOKIT), *args],
        capture_output=True,
        text=True,
        env=_env(home),
        timeout=120,
    )
    imported = {
        line.rsplit("|", 1)[1].strip()
        for line in done.stderr.splitlines()
        if line.startswith("import time:") and line.count("|") == 2
    }
    assert "click" in imported, "importtime output was not read"
    return done, imported


def test_help_answers_without_loading_the_store_the_bus_or_the_templates(tmp_path: Path) -> None:
    done, imported = _bookit(tmp_path, "--help")

    assert done.returncode == 0, done.stderr
    for command in ("venue", "book", "waitlist", "replay", "run"):
        assert command in done.stdout
    assert imported & HEAVY == set()


def test_a_command_s_own_help_loads_nothing_heavy_either(tmp_path: Path) -> None:
    done, imported = _bookit(tmp_path, "waitlist", "claim", "--help")

    assert done.returncode == 0, done.stderr
    assert "--user" in done.stdout
    assert imported & HEAVY == set()


def test_an_argument_error_exits_2_before_anything_heavy_is_loaded(tmp_path: Path) -> None:
    missing, imported = _bookit(tmp_path, "book", "--user", "ann@example.com", "--venue", "hall")
    unknown, imported_too = _bookit(tmp_path, "bokk")

    assert missing.returncode == 2 and "Missing option '--date'" in missing.stderr
    assert unknown.returncode == 2 and "No such command 'bokk'" in unknown.stderr
    assert (imported | imported_too) & HEAVY == set()
    assert not (tmp_path / "events.sqlite").exists()  # nothing was opened, nothing written


def test_venue_list_reads_without_loading_the_bus_the_templates_or_the_web_server(tmp_path: Path) -> None:
    added = subprocess.run(
        [str(BOOKIT), "venue", "add", "--name", "Main Hall", "--tz", "Europe/London"],
        capture_output=True,
        text=True,
        env=_env(tmp_path),
        timeout=120,
    )
    assert added.returncode == 0, added.stderr

    listed, modules = _bookit_modules(tmp_path, "--json", "venue", "list")
    imported = {name.split(".")[0] for name in modules}

    assert listed.returncode == 0, listed.stderr
    assert [json.loads(line) for line in listed.stdout.splitlines()] == [
        {"venue_id": "main-hall", "name": "Main Hall", "tz": "Europe/London"}
    ]
    assert "sqlalchemy" in imported  # it did read the database
    assert imported & NOT_FOR_A_READ == set()
    # Nor the domain, the commands, the application or the mailer: only the read side.
    ours = {name for name in modules if name.startswith("bookit.")}
    assert {name for name in ours if not name.startswith(A_READ_S_OWN)} == set()


def test_every_cli_module_keeps_its_heavy_imports_inside_its_commands() -> None:
    """The rule for a new family of commands: import the commands, the queries or the service
    inside the command's function, never at the top of its module."""
    script = (
        "import importlib, json, pkgutil, sys\n"
        "import bookit.entrypoints.cli as cli\n"
        "names = [m.name for m in pkgutil.iter_modules(cli.__path__, cli.__name__ + '.')]\n"
        "for name in names:\n"
        "    importlib.import_module(name)\n"
        "print(json.dumps({'modules': names, 'loaded': sorted(sys.modules)}))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout)
    loaded = {name.split(".")[0] for name in found["loaded"]}

    assert "bookit.entrypoints.cli.venues" in found["modules"]
    assert loaded & HEAVY == set(), sorted(loaded & HEAVY)
