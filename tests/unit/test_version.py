"""`bookit --version` says which release this is and which shapes it writes (DESIGN rule 20)."""

from __future__ import annotations

from importlib.metadata import version

from click.testing import CliRunner

from bookit.entrypoints.cli import main
from bookit.evolution import EVENT_SCHEMA_VERSION
from bookit.projections.tables import READ_MODELS_VERSION


def test_rule_20_version_names_the_package_and_the_event_schema(tmp_path: object) -> None:
    done = CliRunner().invoke(main, ["--home", str(tmp_path), "--version"])
    assert done.exit_code == 0
    assert done.output.startswith(
        f"bookit-core {version('bookit-core')}: event schema {EVENT_SCHEMA_VERSION},"
    )
    assert f"read models {READ_MODELS_VERSION}" in done.output
