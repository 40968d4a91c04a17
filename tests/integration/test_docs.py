"""docs/contract.md and docs/design.md describe this code as it is. Read from the code itself:
every CLI command (the click tree), every route `bookit run` serves (the API's and the link
pages' routers), every public bus command, every email kind (the templates) and every event topic
(the event classes). Each must be named in docs/contract.md, and everything it names must exist;
every file docs/design.md names must exist and every rule with a test must be in it. A command
or route added without a line in the docs fails here, with what to add."""

from __future__ import annotations

import re
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click

import bookit
from bookit import commands as c
from bookit.bootstrap import bootstrap
from bookit.entrypoints.api import make_api
from bookit.entrypoints.cli import main
from bookit.entrypoints.link_pages import make_web_app
from bookit.evolution import schema_lines

ROOT = Path(__file__).resolve().parents[2]
CONTRACT = (ROOT / "docs" / "contract.md").read_text()
DESIGN = (ROOT / "docs" / "design.md").read_text()
SRC = Path(bookit.__file__).parent
METHODS = r"(?:GET|POST|PUT|PATCH|DELETE)"


def cli_commands(group: click.Group = main, path: tuple[str, ...] = ()) -> Iterator[str]:
    for name, command in group.commands.items():
        if isinstance(command, click.Group):
            if command.invoke_without_command:
                yield " ".join((*path, name))
            yield from cli_commands(command, (*path, name))
        else:
            yield " ".join((*path, name))


def documented_commands() -> set[str]:
    found = set()
    for line in CONTRACT.splitlines():
        match = re.match(r"^bookit ((?:[a-z][a-z-]*)(?: [a-z][a-z-]*)*)", line)
        if match:
            found.add(match.group(1))
    return found


def _routes(routes: list[Any]) -> Iterator[tuple[str, str]]:
    for route in routes:
        inner = getattr(route, "original_router", None)
        if inner is not None:
            yield from _routes(inner.routes)
        elif hasattr(route, "path"):
            for method in getattr(route, "methods", None) or ():
                if method != "HEAD":
                    yield method, route.path


def served_routes() -> set[tuple[str, str]]:
    service = bootstrap(tempfile.mkdtemp(prefix="bookit-docs-"))
    try:
        api = make_api(service, "local", {"BOOKIT_API_SECRET": "x" * 40})
        pages = make_web_app(service, service.bus.clock)
        return set(_routes(api.routes)) | set(_routes(getattr(pages, "routes", [])))
    finally:
        service.close()


def documented_routes() -> set[tuple[str, str]]:
    found = set()
    for line in CONTRACT.splitlines():
        match = re.match(rf"^({METHODS}(?:,{METHODS})*)\s+(/\S*)", line)
        if match:
            path = match.group(2).split("?")[0]
            found |= {(method, path) for method in match.group(1).split(",")}
    return found


def test_every_cli_command_is_in_the_contract_and_nothing_else() -> None:
    built, written = set(cli_commands()), documented_commands()
    assert not built - written, f"add to docs/contract.md's command block: {sorted(built - written)}"
    assert not written - built, (
        f"docs/contract.md names commands that do not exist: {sorted(written - built)}"
    )


def test_every_served_route_is_in_the_contract_and_nothing_else() -> None:
    built, written = served_routes(), documented_routes()
    assert ("GET", "/api/bookings") in built and ("GET", "/l/{token}") in built
    assert not built - written, f"add to docs/contract.md's routes: {sorted(built - written)}"
    assert not written - built, (
        f"docs/contract.md names routes that are not served: {sorted(written - built)}"
    )


def test_every_bus_command_email_kind_and_event_topic_is_in_the_contract() -> None:
    missing = [name for name in c.PUBLIC_COMMANDS if f"`{name}{{" not in CONTRACT]
    assert not missing, f"add these bus commands to docs/contract.md: {missing}"
    kinds = {p.name.split(".")[0] for p in (SRC / "adapters" / "mail" / "templates").glob("*.txt.j2")} - {
        "base"
    }
    missing = sorted(k for k in kinds if f"`{k}`" not in CONTRACT)
    assert not missing, f"add these email kinds (X-BookIT-Kind) to docs/contract.md: {missing}"
    topics = {line.split()[1] for line in schema_lines() if line.startswith("event ")}
    missing = sorted(t for t in topics if f"`{t}`" not in CONTRACT)
    assert not missing, f"add these event topics to docs/contract.md: {missing}"


def test_design_names_only_files_that_exist_and_every_rule_with_a_test() -> None:
    named = set(re.findall(r"`((?:[a-z_]+/)*[a-z_]+\.py)`", DESIGN))
    missing = sorted(n for n in named if not (SRC / n).exists() and not (ROOT / n).exists())
    assert not missing, f"docs/design.md names files that do not exist: {missing}"
    tested = set()
    for test in (ROOT / "tests").rglob("test_*.py"):
        tested |= {int(n) for n in re.findall(r"def test_rule_(\d+)_", test.read_text())}
    described = {int(n) for n in re.findall(r"^\| (\d+) \|", DESIGN, flags=re.M)}
    assert tested and not tested - described, f"describe rules {sorted(tested - described)} in docs/design.md"


def test_the_readme_and_the_help_name_the_docs_that_exist() -> None:
    readme = (ROOT / "README.md").read_text()
    for text in (readme, CONTRACT, DESIGN):
        assert not re.search(r"(?<!docs/)\b(CONTRACT|DESIGN)\.md", text)
    assert "docs/contract.md" in readme and "docs/design.md" in readme
