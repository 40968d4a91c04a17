"""Every `bookit` command explains itself: a description, help for every option with the form of
its value (EMAIL, VENUE, YYYY-MM-DD, HH:MM, ...), the environment variables in `bookit --help`,
and `--json` before or after the command alike. Walks the real click tree, so a command added
without help fails here."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

import bookit
from bookit.entrypoints.cli import main

SRC = Path(bookit.__file__).parent
# Free text is free text: TEXT is its form. Every other value names its own.
FREE_TEXT = {"purpose", "reason", "name"}
FORMS = {"user": "EMAIL", "venue_id": "VENUE", "date": "YYYY-MM-DD", "start": "HH:MM", "end": "HH:MM"}


def commands(group: click.Group = main, path: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    for name, command in sorted(group.commands.items()):
        yield (*path, name)
        if isinstance(command, click.Group):
            yield from commands(command, (*path, name))


def command_at(path: tuple[str, ...]) -> click.Command:
    command: click.Command = main
    for name in path:
        assert isinstance(command, click.Group)
        command = command.commands[name]
    return command


ALL = list(commands())


def test_the_walk_finds_every_family() -> None:
    names = {" ".join(p) for p in ALL}
    assert {
        "book",
        "confirm",
        "cancel",
        "venue add",
        "venue list",
        "admin add",
        "waitlist join",
        "run",
    } <= names
    assert len(ALL) > 30


@pytest.mark.parametrize("path", ALL, ids=[" ".join(p) for p in ALL])
def test_every_command_and_option_has_help_with_the_form_of_its_value(path: tuple[str, ...]) -> None:
    command = command_at(path)
    shown = CliRunner().invoke(main, [*path, "--help"])
    assert shown.exit_code == 0, shown.output
    assert (command.help or "").strip(), f"`bookit {' '.join(path)}` has no description"
    for param in command.params:
        if not isinstance(param, click.Option) or param.hidden:
            continue
        assert param.help, f"{param.opts[0]} of `bookit {' '.join(path)}` has no help"
        if param.is_flag or param.count:
            continue
        form = param.make_metavar(click.Context(command))
        assert form not in ("TEXT", "INTEGER", "FLOAT") or param.name in FREE_TEXT, (path, param.opts, form)
        if param.name in FORMS and param.opts[0] != "--id":
            assert form == FORMS[param.name], (path, param.opts, form)
        assert f"{param.opts[0]} {form}" in shown.output
    for param in command.params:
        if isinstance(param, click.Argument):
            assert param.human_readable_name in (command.help or ""), (path, param.name)


def test_bookit_help_lists_every_environment_variable_the_code_reads() -> None:
    read = set()
    for source in SRC.rglob("*.py"):
        read |= set(re.findall(r"\bBOOKIT_[A-Z][A-Z_]*[A-Z]\b", source.read_text()))
    shown = CliRunner().invoke(main, ["--help"]).output
    missing = sorted(name for name in read if name not in shown)
    assert not missing, f"add these to entrypoints/cli/environment.py: {missing}"
    assert "docs/contract.md" in shown and "docs/design.md" in shown


def test_json_works_before_or_after_the_command(tmp_path: Path) -> None:
    home = ["--home", str(tmp_path / "home"), "--now", "2026-12-01T09:00Z"]
    runner = CliRunner()
    added = runner.invoke(
        main, [*home, "venue", "add", "--name", "Main Hall", "--tz", "Europe/London", "--json"]
    )
    assert json.loads(added.stdout) == {"venue_id": "main-hall"}
    before = runner.invoke(main, [*home, "--json", "venue", "list"]).stdout
    after = runner.invoke(main, [*home, "venue", "list", "--json"]).stdout
    assert before == after and json.loads(after)["venue_id"] == "main-hall"
    plain = runner.invoke(main, [*home, "venue", "list"]).stdout
    assert plain.startswith("main-hall\tMain Hall\tEurope/London")
    refused = runner.invoke(
        main,
        [
            *home,
            "book",
            "--user",
            "ann",
            "--venue",
            "main-hall",
            "--date",
            "2026-12-05",
            "--start",
            "10:00",
            "--end",
            "11:00",
            "--json",
        ],
    )
    assert refused.exit_code == 2 and json.loads(refused.stdout)["code"] == "bad_email"
