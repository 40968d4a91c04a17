"""Events out: every stored event, in store order, onto the `bookit.events` topic exchange.

An outbox relay, not a publish inside the command handler: it follows the event store's
notification log from a position named `events_out` in the read-model database, publishes (with
publisher confirms where the broker has them), and only then moves the position. A crash between
the publish and the move publishes those events again: at least once, never skipped.

On a broker with publisher confirms (RabbitMQ) a page of events is published on a channel of the
relay's own and the confirms are awaited once for the page, not once per event: one round trip
instead of one per event. A nack or a lost connection fails the page, and the position does not
move. Elsewhere (Redis) each event is published in turn.

Several workers may each run a relay. On PostgreSQL the position row is locked while a batch is
published (`projections/following.py`), so the others wait instead of publishing it twice.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from eventsourcing.application import Application
from eventsourcing.persistence import Notification
from kombu import Connection, Producer
from sqlalchemy import Connection as Db
from sqlalchemy import Engine

from bookit import commands as c
from bookit.adapters.bus_topology import Topology
from bookit.adapters.confirmed import ConfirmedPublisher, confirms
from bookit.event_data import payload, topic_of
from bookit.observability import tracing
from bookit.projections.following import Applied, TrackedFollower

log = logging.getLogger(__name__)

CONFIRMING_TRANSPORTS = ("amqp", "pyamqp", "amqps")
PUBLISH_RETRY = {"max_retries": 2, "interval_start": 0.5, "interval_step": 0.5, "interval_max": 1.0}


def broker_connection(url: str) -> Connection:
    """A kombu connection that waits for the broker's confirm on every publish, where it can."""
    scheme = url.split("://", 1)[0].split("+")[0]
    options = {"confirm_publish": True} if scheme in CONFIRMING_TRANSPORTS else {}
    return Connection(url, transport_options=options)


class EventRelay(TrackedFollower):
    name = "events_out"

    def __init__(
        self,
        app: Application[Any],
        engine: Engine,
        broker: Connection,
        topology: Topology,
        batch_size: int = 200,
    ) -> None:
        super().__init__(app, engine, batch_size)
        self.broker = broker
        self.topology = topology
        self._producer: Producer | None = None
        self._confirming = confirms(broker)
        self._confirmed = ConfirmedPublisher(
            broker, lambda channel: topology.event_exchange(channel).declare()
        )

    def catch_up(self, now: datetime) -> tuple[int, list[c.Command]]:
        """Publish everything stored since the tracked position; returns how many were published.
        A failed compare-and-set after publishing means another relay published them too:
        consumers see those twice (at least once, never skipped)."""
        return self.follow(self._publish_page), []

    def _publish_page(self, _db: Db, notifications: Sequence[Notification]) -> Applied:
        events = [self.app.mapper.to_domain_event(notification) for notification in notifications]
        if self._confirming:
            self._publish_confirmed(events)
        else:
            for event in events:
                self._publish(event)
        return Applied(len(notifications))

    def _publish_confirmed(self, events: list[Any]) -> None:
        outgoing = []
        for event in events:
            body = payload(event)
            properties = {
                "delivery_mode": 2,
                "message_id": body["event_id"],
                "headers": tracing.header_of(event),
            }
            outgoing.append(
                (json.dumps(body, sort_keys=True), self.topology.events, topic_of(event), properties)
            )
        self._confirmed.publish_all(outgoing)

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
            headers=tracing.header_of(event),
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
