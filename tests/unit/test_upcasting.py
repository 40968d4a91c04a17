"""DESIGN rule 20: a new shape is a new `class_version` with `upcast_vN_vN+1`, read from the old
shape's stored bytes; every versioned class has its whole chain of upcasters."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from eventsourcing.persistence import StoredEvent
from eventsourcing.utils import register_topic, resolve_topic

from bookit.aggregates.base import project
from bookit.aggregates.booking import CANCELLED, Booking
from bookit.application import BookIT
from bookit.evolution import aggregate_classes, class_version, event_classes

GOLDEN = Path(__file__).parents[1] / "golden"


class CancelledV3(Booking.Cancelled):
    """What a later `booking.cancelled` might be: v2 said who cancelled (`by`), v3 split the
    free-text reason from a code. Registered under a topic of its own, so the real class is
    untouched; the stored bytes are the real v1 fixture's."""

    TOPIC = "test.booking.cancelled.upcast"
    class_version = 3
    by: str
    reason_code: str

    @staticmethod
    def upcast_v1_v2(state: dict[str, Any]) -> None:
        state["by"] = "owner" if state["actor"] != "system" else "system"

    @staticmethod
    def upcast_v2_v3(state: dict[str, Any]) -> None:
        state["reason_code"] = "ill" if "ill" in state["reason"] else "other"


register_topic(CancelledV3.TOPIC, CancelledV3)


def stored(row: dict[str, Any], topic: str | None = None) -> StoredEvent:
    return StoredEvent(
        originator_id=UUID(row["originator_id"]),
        originator_version=row["originator_version"],
        topic=topic or row["topic"],
        state=row["state"].encode("utf-8"),
    )


@pytest.fixture(scope="module")
def app() -> Any:
    application = BookIT(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
    yield application
    application.close()


def test_rule_20_an_old_shape_is_upcast_in_turn_and_applies(app: BookIT) -> None:
    fixture = json.loads((GOLDEN / "events" / "booking.cancelled.v1.json").read_text())
    event = app.mapper.to_domain_event(stored(fixture["event"], CancelledV3.TOPIC))
    assert isinstance(event, CancelledV3)
    assert (event.reason, event.by, event.reason_code) == ("ill", "owner", "ill")
    before = [app.mapper.to_domain_event(stored(row)) for row in fixture["before"]]
    booking = project(None, [*before, event])
    assert booking.status == CANCELLED and booking.version == event.originator_version
    # An event written today carries its version, and reads back without upcasting again.
    again = app.mapper.to_domain_event(app.mapper.to_stored_event(event))
    assert json.loads(app.mapper.to_stored_event(event).state)["class_version"] == 3
    assert vars(again) == vars(event)


def test_rule_20_every_versioned_class_has_its_chain_of_upcasters() -> None:
    classes = [*event_classes().values(), *aggregate_classes(), CancelledV3]
    missing = [
        f"{cls.__qualname__}.upcast_v{n}_v{n + 1}"
        for cls in classes
        for n in range(1, class_version(cls))
        if not callable(getattr(cls, f"upcast_v{n}_v{n + 1}", None))
    ]
    assert missing == []


def test_rule_20_stored_topics_name_no_module_so_moving_code_keeps_them_resolving() -> None:
    """Every topic BookIT stores is an explicit name ("booking.booked"), not "module:Class": the
    service layer's move (issue 23) or any other changes no stored topic. eventsourcing's own
    Snapshot class is the one module path, and snapshots name their aggregate explicitly."""
    topics = set()
    for path in [*(GOLDEN / "events").glob("*.json"), *(GOLDEN / "snapshots").glob("*.json")]:
        fixture = json.loads(path.read_text())
        for row in [
            fixture.get("event") or fixture["snapshot"],
            *fixture.get("before", fixture.get("events", [])),
        ]:
            topics.add(row["topic"])
            state = json.loads(row["state"])
            topics |= {state[key] for key in ("originator_topic", "topic") if key in state}
    assert {topic for topic in topics if ":" in topic} == {"eventsourcing.domain:Snapshot"}
    assert all(resolve_topic(topic) for topic in topics)


def test_rule_20_events_out_carry_the_shape_they_are_sent_in(app: BookIT) -> None:
    """A no-show stored as v1 goes out upcast, in v2's shape, and says so (`class_version`)."""
    from bookit.event_data import payload

    fixture = json.loads((GOLDEN / "events" / "booking.no_show.v1.json").read_text())
    body = payload(app.mapper.to_domain_event(stored(fixture["event"])))
    assert (body["type"], body["class_version"], body["no_strike"]) == ("booking.no_show", 2, "")
    fixture = json.loads((GOLDEN / "events" / "booking.booked.v1.json").read_text())
    booked = payload(app.mapper.to_domain_event(stored(fixture["event"])))
    assert booked["class_version"] == class_version(event_classes()["booking.booked"])
