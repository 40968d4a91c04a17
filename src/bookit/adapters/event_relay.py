"""Events out: every stored event, in store order, onto the `bookit.events` topic exchange.

An outbox relay, not a publish inside the command handler: it follows the event store's
notification log from a position named `events_out` in the read-model database, publishes (with
publisher confirms where the broker has them), and only then moves the position. A crash between
the publish and the move publishes those events again: at least once, never skipped.

Several workers may each run a relay. On PostgreSQL the position row is locked while a batch is
published, so the others wait instead of publishing the same batch twice.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from eventsourcing.application import Application
from kombu import Connection, Producer
from sqlalchemy import Connection as Db
from sqlalchemy import Engine, select
from sqlalchemy.exc import IntegrityError

from bookit.adapters.bus_topology import Topology
from bookit.event_data import payload, topic_of
from bookit.projections.database import advance, position_of
from bookit.projections.tables import positions

log = logging.getLogger(__name__)

CONFIRMING_TRANSPORTS = ("amqp", "pyamqp", "amqps")
PUBLISH_RETRY = {"max_retries": 2, "interval_start": 0.5, "interval_step": 0.5, "interval_max": 1.0}


def broker_connection(url: str) -> Connection:
    """A kombu connection that waits for the broker's confirm on every publish, where it can."""
    scheme = url.split("://", 1)[0].split("+")[0]
    options = {"confirm_publish": True} if scheme in CONFIRMING_TRANSPORTS else {}
    return Connection(url, transport_options=options)


class EventRelay:
    name = "events_out"

    def __init__(
        self,
        app: Application[Any],
        engine: Engine,
        broker: Connection,
        topology: Topology,
        batch_size: int = 200,
    ) -> None:
        self.app = app
        self.engine = engine
        self.broker = broker
        self.topology = topology
        self.batch_size = batch_size
        self._producer: Producer | None = None

    def pump(self) -> int:
        """Publish everything stored since the tracked position; returns how many were published."""
        self._ensure_position_row()
        published = 0
        while True:
            with self.engine.begin() as db:
                position = self._locked_position(db)
                notifications = self.app.recorder.select_notifications(
                    start=position + 1, limit=self.batch_size
                )
                if not notifications:
                    return published
                for notification in notifications:
                    self._publish(self.app.mapper.to_domain_event(notification))
                if not advance(db, self.name, position, notifications[-1].id):
                    db.rollback()  # another relay published these too: consumers see them twice
                    return published
            published += len(notifications)

    def _publish(self, event: Any) -> None:
        body = payload(event)
        self.producer.publish(
            json.dumps(body, sort_keys=True),
            exchange=self.topology.event_exchange,
            routing_key=topic_of(event),
            content_type="application/json",
            content_encoding="utf-8",
            delivery_mode=2,
            message_id=body["event_id"],
            retry=True,
            # Bounded, so that a broker that stays away fails this pump (the position does not
            # move; the next pump sends the same events) instead of blocking the worker.
            retry_policy=PUBLISH_RETRY,
        )

    @property
    def producer(self) -> Producer:
        if self._producer is None:
            channel = self.broker.default_channel
            self.topology.event_exchange(channel).declare()
            self._producer = Producer(channel)
        return self._producer

    def _ensure_position_row(self) -> None:
        try:
            with self.engine.begin() as db:
                position_of(db, self.name)
        except IntegrityError:
            pass  # another worker created it at the same moment

    def _locked_position(self, db: Db) -> int:
        # FOR UPDATE on PostgreSQL; SQLite has no row locks and ignores it.
        query = select(positions.c.position).where(positions.c.name == self.name).with_for_update()
        return int(db.execute(query).scalar_one())
