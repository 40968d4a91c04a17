"""Publishing many messages and waiting for the broker's confirms once, not once each.

kombu's `confirm_publish` waits for the broker's confirm after every publish: one round trip
per message. A `ConfirmedPublisher` publishes a list of messages on a channel of its own in
confirm mode, then waits until the broker has confirmed every one (acks counted by delivery
tag, through listeners, so a confirm read while the connection waits for something else still
counts). A nack, a lost connection or a confirm that does not come in time raises, and the
caller does not move on: whatever those messages stood for (a follower's position, a command's
acknowledgement) stays where it was, and they are published again.

On py-amqp, a list's frames are written to the socket at once and its confirms read in chunks
(amqp_socket.py: each message would otherwise cost a write, a read before it and three reads
for its confirm).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from kombu import Connection

from bookit.adapters.amqp_socket import look_for_blocked, one_write, publish, reading_ahead

CONFIRM_TIMEOUT = 10.0  # seconds to wait for a list's confirms before failing it

# (body, exchange, routing key, AMQP properties; `headers` among them: the application headers)
Outgoing = tuple[str, str, str, dict[str, Any]]


class Nacked(ConnectionError):
    """The broker refused to take a published message: handled like a broker that went away."""


def confirms(broker: Connection) -> bool:
    """Whether `broker` was opened to wait for confirms (see event_relay.broker_connection)."""
    options: dict[str, Any] = dict(broker.transport_options or {})
    return bool(options.get("confirm_publish"))


class ConfirmedPublisher:
    def __init__(self, broker: Connection, prepare: Callable[[Any], None] | None = None) -> None:
        self.broker = broker
        self.prepare = prepare  # run on each new channel (declare an exchange, ...)
        self._channel: Any = None
        self._published = 0  # delivery tags handed out on the channel so far (they count from 1)
        self._unconfirmed: set[int] = set()
        self._nacked = 0

    def publish_all(self, messages: list[Outgoing]) -> None:
        """Publish every message, then return once the broker has confirmed them all."""
        if not messages:
            return
        try:
            self._publish_all(messages)
        except Exception:
            self._channel = None  # a fresh channel for the next try
            raise

    def _publish_all(self, messages: list[Outgoing]) -> None:
        channel = self._confirm_channel()
        look_for_blocked(channel)
        with one_write(channel):
            for body, exchange, routing_key, properties in messages:
                headers = properties.get("headers")
                if headers is not None:  # AMQP's application headers (a `traceparent`)
                    properties = {k: v for k, v in properties.items() if k != "headers"}
                message = channel.prepare_message(
                    body,
                    content_type="application/json",
                    content_encoding="utf-8",
                    headers=headers,
                    properties=properties,
                )
                publish(channel, message, exchange, routing_key)
                self._published += 1
                self._unconfirmed.add(self._published)
        deadline = time.monotonic() + CONFIRM_TIMEOUT
        with reading_ahead(self.broker) as next_buffered:
            while self._unconfirmed and not self._nacked:
                if next_buffered():
                    continue
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(
                        f"{len(self._unconfirmed)} message(s) not confirmed in {CONFIRM_TIMEOUT:g}s"
                    )
                self.broker.drain_events(timeout=left)  # the confirms arrive through our listeners
        if self._nacked:
            raise Nacked(f"the broker refused {self._nacked} message(s)")

    def _confirm_channel(self) -> Any:
        if self._channel is None:
            channel = self.broker.channel()
            if self.prepare is not None:
                self.prepare(channel)
            channel.confirm_select()
            channel.events["basic_ack"].add(self._on_ack)
            channel.events["basic_nack"].add(self._on_nack)
            self._channel, self._published, self._unconfirmed, self._nacked = channel, 0, set(), 0
        return self._channel

    def _on_ack(self, delivery_tag: int, multiple: bool) -> None:
        if multiple:
            self._unconfirmed.difference_update({tag for tag in self._unconfirmed if tag <= delivery_tag})
        else:
            self._unconfirmed.discard(delivery_tag)

    def _on_nack(self, delivery_tag: int, multiple: bool) -> None:
        self._nacked += 1
        self._on_ack(delivery_tag, multiple)
