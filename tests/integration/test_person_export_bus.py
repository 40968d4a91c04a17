"""`ExportPerson{email}` on the bus (CONTRACT "Personal data"): an admin's, against a real
`bookit run` worker on RabbitMQ; the same document as the CLI's."""

# ruff: noqa: F811

from __future__ import annotations

from collections.abc import Callable

import pytest
from servers import (  # noqa: F401  (fixtures are used by name)
    ANN,
    BOB,
    RawClient,
    WorkerProcess,
    book_body,
    client,
    home,
    rabbitmq,
    store,
    topology,
    worker,
    workers,
)

from bookit import commands as c
from bookit.aggregates.base import SYSTEM
from bookit.bootstrap import Service
from bookit.personal.export import export_person

ADMIN = "admin@example.com"


@pytest.fixture
def bus_url(rabbitmq: str) -> str:
    return rabbitmq


def export_body(actor: str, email: str) -> dict[str, object]:
    return c.ExportPerson(actor=actor, email=email).model_dump(mode="json")


def test_an_admin_exports_a_person_over_the_bus_and_nobody_else_may(
    worker: Callable[[], WorkerProcess], client: RawClient, store: Service
) -> None:
    store.bus.handle(c.GrantAdmin(actor=SYSTEM, email=ADMIN))
    worker()
    (booked,) = client.wait([client.publish(book_body(ANN, "14:00", "16:00", purpose="Choir practice"))])
    assert booked["ok"], booked
    as_admin, as_bob, stranger = client.wait(
        [
            client.publish(export_body(ADMIN, ANN)),
            client.publish(export_body(BOB, ANN)),
            client.publish(export_body(ADMIN, "carol@example.com")),
        ]
    )
    assert as_admin["ok"] and as_admin["result"] == export_person(store.engine, ANN)
    assert as_admin["result"]["bookings"][0]["purpose"] == "Choir practice"
    assert (as_bob["ok"], as_bob["code"]) == (False, "not_admin")
    assert (stranger["ok"], stranger["code"]) == (False, "unknown_person")
