"""DESIGN rule 20: every stored shape of every event type, and of every snapshot, taken from a real
store (tests/golden/, made by tests/golden/capture.py, never edited), still reads with today's
mapper and upcasters, has today's fields, and applies to the aggregate it belongs to."""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import StoredEvent

from bookit.aggregates.base import project
from bookit.application import BookIT
from bookit.evolution import (
    EVENT_SCHEMA_VERSION,
    class_version,
    event_classes,
    schema_lines,
    snapshotted,
)

GOLDEN = Path(__file__).parents[1] / "golden"
NAME = re.compile(r"^(?P<topic>.+)\.v(?P<version>\d+)\.json$")


def fixtures(kind: str) -> list[tuple[str, int, Path]]:
    found = []
    for path in sorted((GOLDEN / kind).glob("*.json")):
        match = NAME.match(path.name)
        assert match, f"{path.name}: a fixture is named TOPIC.vN.json"
        found.append((match["topic"], int(match["version"]), path))
    return found


@pytest.fixture(scope="module")
def app() -> Iterator[BookIT]:
    """Today's application, for its mapper (transcodings, topics, upcasters); nothing stored."""
    application = BookIT(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
    yield application
    application.close()


def stored(row: dict[str, Any]) -> StoredEvent:
    return StoredEvent(
        originator_id=UUID(row["originator_id"]),
        originator_version=row["originator_version"],
        topic=row["topic"],
        state=row["state"].encode("utf-8"),  # the bytes the recorder wrote
    )


def declared_fields(cls: type[Any]) -> set[str]:
    return {f.name for f in dataclasses.fields(cls)} - {"originator_id", "originator_version"}


@pytest.mark.parametrize(("topic", "version", "path"), fixtures("events"), ids=lambda v: str(v))
def test_rule_20_every_stored_event_shape_still_reads_and_applies(
    app: BookIT, topic: str, version: int, path: Path
) -> None:
    fixture = json.loads(path.read_text())
    assert fixture["event"]["topic"] == topic
    event = app.mapper.to_domain_event(stored(fixture["event"]))
    cls = event_classes()[topic]
    assert type(event) is cls
    assert version <= class_version(cls), f"{topic}: a fixture of v{version}, but the class is older"
    # Upcast to today's shape: exactly the fields the class declares, none missing, none extra.
    have, want = set(vars(event)) - {"originator_id", "originator_version"}, declared_fields(cls)
    assert have == want, (
        f"{topic} v{version} reads with fields missing {sorted(want - have)} and extra "
        f"{sorted(have - want)}: a new shape needs class_version {class_version(cls) + 1} and "
        f"upcast_v{class_version(cls)}_v{class_version(cls) + 1} (docs/evolution.md)"
    )
    before = [app.mapper.to_domain_event(stored(row)) for row in fixture["before"]]
    aggregate = project(None, [*before, event])
    assert isinstance(aggregate, Aggregate)
    assert (aggregate.id, aggregate.version) == (event.originator_id, event.originator_version)


@pytest.mark.parametrize(("topic", "version", "path"), fixtures("snapshots"), ids=lambda v: str(v))
def test_rule_20_every_stored_snapshot_shape_still_loads_as_its_events_rebuild_it(
    app: BookIT, topic: str, version: int, path: Path
) -> None:
    fixture = json.loads(path.read_text())
    snapshot = app.mapper.to_domain_event(stored(fixture["snapshot"]))
    from_snapshot = project(None, [snapshot])
    from_events = project(None, [app.mapper.to_domain_event(stored(row)) for row in fixture["events"]])
    assert type(from_snapshot) is snapshotted()[topic]
    assert version <= class_version(type(from_snapshot))
    assert vars(from_snapshot).keys() == vars(from_events).keys(), (
        f"{topic} v{version}: a snapshot's state has other attributes than today's aggregate; "
        f"it needs class_version {class_version(type(from_snapshot)) + 1} and an upcaster"
    )
    assert vars(from_snapshot) == vars(from_events)


def test_rule_20_no_event_type_or_shape_ships_without_a_golden_fixture() -> None:
    have = {(topic, version) for topic, version, _ in fixtures("events")}
    want = {(topic, v) for topic, cls in event_classes().items() for v in range(1, class_version(cls) + 1)}
    assert sorted(want - have) == [], "capture a fixture of each new shape: docs/evolution.md"
    assert sorted(have - want) == [], "a fixture of a type or version the code does not have"
    assert len(want) >= 43  # the 43 types of the first capture, at least


def test_rule_20_no_snapshotted_aggregate_ships_without_a_golden_snapshot() -> None:
    have = {(topic, version) for topic, version, _ in fixtures("snapshots")}
    want = {(topic, v) for topic, cls in snapshotted().items() for v in range(1, class_version(cls) + 1)}
    assert sorted(want - have) == []
    assert sorted(have - want) == []


def test_rule_20_the_event_schema_version_names_todays_shapes() -> None:
    listed = (GOLDEN / f"schema-v{EVENT_SCHEMA_VERSION}.txt").read_text().splitlines()
    assert schema_lines() == listed, (
        "the shapes changed: raise EVENT_SCHEMA_VERSION (bookit/evolution.py) and list them in "
        f"tests/golden/schema-v{EVENT_SCHEMA_VERSION + 1}.txt"
    )


def test_rule_20_golden_fixtures_are_never_edited() -> None:
    """SHA256SUMS is only ever added to: a fixture that changed, or one not listed, fails."""
    import hashlib

    listed = dict(reversed(line.split("  ", 1)) for line in (GOLDEN / "SHA256SUMS").read_text().splitlines())
    files = {
        str(path.relative_to(GOLDEN))
        for kind in ("events", "snapshots", "stores")
        for path in (GOLDEN / kind).rglob("*")
        if path.is_file()
    } | {path.name for path in GOLDEN.glob("schema-v*.txt")}
    assert sorted(files - listed.keys()) == [], "add the new fixtures' lines to tests/golden/SHA256SUMS"
    changed = [
        name
        for name, digest in listed.items()
        if hashlib.sha256((GOLDEN / name).read_bytes()).hexdigest() != digest
    ]
    assert changed == [], f"golden fixtures are never edited: {changed}"
