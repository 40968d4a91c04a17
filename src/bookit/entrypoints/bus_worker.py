"""`bookit run --bus URL`: consume commands from the broker, tick on a timer, relay events out.

Delivery: the broker delivers at least once; the worker acknowledges a message only after the
command's events are stored (or its refusal is recorded) and the reply is sent, so a worker that
dies mid-command leaves the message to be delivered again. A redelivered command_id has one
effect and is answered with the first outcome: a handled command by its receipt in the event
store, a refused one by its row in the `refusals` table. Several workers may share one queue.

A message that cannot be a command (not UTF-8, not JSON, unknown type, bad fields) is refused
like any other: recorded, answered when it has `reply_to`, acknowledged, and the worker goes on.

With `--commands-only` the worker neither follows, ticks on a timer nor relays events: a
followers process does (followers.py), and the replies wait for it (held_replies.py).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from kombu import Connection, Consumer, Message, Producer
from kombu.exceptions import OperationalError
from sqlalchemy import insert

from bookit import commands as c
from bookit.adapters.amqp_socket import one_write, reading_ahead
from bookit.adapters.bus_topology import Topology, safe_url
from bookit.adapters.confirmed import ConfirmedPublisher, confirms
from bookit.adapters.event_relay import PUBLISH_RETRY, EventRelay, broker_connection
from bookit.bootstrap import Service
from bookit.entrypoints import batching
from bookit.entrypoints.held_replies import HeldReplies
from bookit.entrypoints.refusal_records import Reply, refusal_of
from bookit.entrypoints.service import COMMANDS, Settings, tick_logged
from bookit.errors import BadInput, BookitError
from bookit.localtime import iso
from bookit.observability import logs, tracing
from bookit.personal.export import export_for
from bookit.projections.tables import refusals
from bookit.settled import SettledMark

log = logging.getLogger(__name__)

MAX_BODY_RECORDED = 10_000
RECONNECT_FIRST = 0.5  # seconds before the first reconnection attempt; doubled up to the max
RECONNECT_MAX = 5.0
HELD_POLL = 0.005  # seconds between looks at the followers' mark while replies are held


def error_reply(error: BookitError) -> dict[str, Any]:
    """The contract's error reply, plus `kind` so a client knows which exit code it means."""
    kind = "bad_input" if isinstance(error, BadInput) else "refused"
    return {"ok": False, "error": error.message, "code": error.code, "kind": kind}


class CommandWorker:
    """Turns one broker message into one reply, with the bookkeeping that makes redelivery safe."""

    def __init__(self, service: Service, clock: Callable[[], datetime]) -> None:
        self.service = service
        self.clock = clock

    def outcome(
        self,
        raw: bytes | str,
        settle: bool = True,
        refused: dict[str, Reply] | None = None,
        unhandled: set[str] | None = None,
    ) -> dict[str, Any]:
        """The reply to one message. With `settle=False` the command only runs (its own atomic
        save); the caller lets the followers catch up, once for a batch (see batching.py).
        `refused`: the batch's earlier refusals, read in one query (and kept up to date here)
        instead of one query for this message; `unhandled`, likewise, the batch's command_ids
        that had no receipt when it looked."""
        try:
            body = decode(raw)
        except BadInput as error:
            return self._refuse(error, None, raw)
        try:
            command = c.parse_command(body)
        except BadInput as error:
            return self._refuse(error, command_id_in(body), raw)
        cid = str(command.command_id)
        earlier = refusal_of(self.service.engine, cid) if refused is None else refused.get(cid)
        if earlier is not None:
            return earlier
        bus = self.service.bus
        try:
            if isinstance(command, c.ExportPerson):  # a read: nothing stored, nothing to settle
                admin = self.service.app.is_admin(command.actor)
                return {
                    "ok": True,
                    "result": export_for(self.service.engine, command.email, actor_is_admin=admin),
                }
            if settle or isinstance(command, c.Tick):  # a tick settles as it goes
                result = bus.handle(command)
            else:
                fresh = unhandled is not None and cid in unhandled
                if unhandled is not None:
                    unhandled.discard(cid)  # the same id again in this batch asks the store
                result = bus.run(command, bus.clock(), unseen=fresh)
        except BookitError as error:
            reply = self._refuse(error, cid, raw)
            if refused is not None:
                refused.setdefault(cid, reply)  # the same id again in this batch hears this
            return reply
        return {"ok": True, "result": result}

    def _refuse(self, error: BookitError, command_id: str | None, raw: bytes | str) -> dict[str, Any]:
        reply = error_reply(error)
        text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
        with self.service.engine.begin() as db:
            db.execute(
                insert(refusals).values(
                    command_id=command_id,
                    received_at=iso(self.clock()),
                    # kind:code, so that a redelivery is answered with the same kind (exit code)
                    code=f"{reply['kind']}:{error.code}"[:64],
                    error=error.message,
                    body=text[:MAX_BODY_RECORDED],
                )
            )
        log.info("refused %s: %s (%s)", command_id or "a message", error.message, error.code)
        return reply


def decode(raw: bytes | str) -> Any:
    try:
        text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
    except UnicodeDecodeError as error:
        raise BadInput(f"message body is not UTF-8: {error.reason}", "malformed_command") from None
    try:
        return json.loads(text)
    except ValueError as error:
        raise BadInput(f"message body is not JSON: {error}", "malformed_command") from None


def command_id_in(body: Any) -> str | None:
    """The command_id of a message that failed to parse, canonical when it is a UUID."""
    raw = body.get("command_id") if isinstance(body, dict) else None
    if not isinstance(raw, str):
        return None
    try:
        return str(UUID(raw))
    except ValueError:
        return raw[:64]


def run_worker(service: Service, settings: Settings, stop: threading.Event) -> None:
    """Consume until `stop` is set; with `once`, tick, drain what is queued, then return."""
    topology = Topology.from_env()
    url = settings.bus_url
    worker = CommandWorker(service, service.bus.clock)
    rest = (
        f"replies wait up to {settings.follow_wait:g}s for the followers process"
        if settings.role == COMMANDS
        else f"events to {topology.events}, ticking every {settings.every:g}s"
    )
    where = f"commands from {topology.queue} at {safe_url(url)}"
    logs.say(f"BookIT worker on {safe_url(service.store)}: {where}, {rest}")
    lost = broker_errors(url)
    pause = RECONNECT_FIRST
    while not stop.is_set():
        session = Session()
        try:
            _consume(url, worker, topology, settings, stop, session)
            return
        except lost as error:
            # The broker went away (restart, network). Nothing is lost: an unacknowledged message
            # goes back to the queue. Try again, backing off while it stays away.
            pause = RECONNECT_FIRST if session.consuming else min(pause * 2, RECONNECT_MAX)
            log.warning("lost the broker at %s (%s); reconnecting in %.1fs", safe_url(url), error, pause)
            stop.wait(pause)


def broker_errors(url: str) -> tuple[type[BaseException], ...]:
    """What a broker that went away raises: socket errors, the transport's connection errors,
    and kombu's OperationalError (its wrapper for them when it (re)connects)."""
    return (OSError, OperationalError, *Connection(url).connection_errors)


@dataclass
class Session:
    """One connection's life; once it got as far as consuming, the back-off starts over."""

    consuming: bool = False


def _consume(
    url: str,
    worker: CommandWorker,
    topology: Topology,
    settings: Settings,
    stop: threading.Event,
    session: Session,
) -> None:
    service: Service = worker.service
    every, once = settings.every, settings.once
    with Connection(url) as conn, broker_connection(url) as out:
        relay = EventRelay(service.app, service.engine, out, topology)
        replies = Producer(out.default_channel)

        pending: list[Message] = []

        def answer(message: Message, reply: dict[str, Any]) -> None:
            reply_to = message.properties.get("reply_to")
            if reply_to:
                replies.publish(
                    json.dumps(reply, sort_keys=True, default=str),
                    exchange="",
                    routing_key=reply_to,
                    correlation_id=message.properties.get("correlation_id"),
                    content_type="application/json",
                    content_encoding="utf-8",
                    headers=tracing.reply_headers(message),
                    retry=True,
                    # Bounded: a broker that stays away ends this session; the message, not yet
                    # acknowledged, comes back and is answered with the same outcome.
                    retry_policy=PUBLISH_RETRY,
                )
            message.ack()

        confirmed = ConfirmedPublisher(out) if confirms(out) else None

        def answer_all(answered: list[tuple[Message, dict[str, Any]]]) -> None:
            """A batch's replies; on RabbitMQ confirmed all at once, then the messages acked."""
            if confirmed is None:
                for message, reply in answered:
                    answer(message, reply)
                return
            outgoing = [
                (
                    json.dumps(reply, sort_keys=True, default=str),
                    "",
                    message.properties["reply_to"],
                    {"delivery_mode": 2, "correlation_id": message.properties.get("correlation_id")}
                    | {"headers": tracing.reply_headers(message)},
                )
                for message, reply in answered
                if message.properties.get("reply_to")
            ]
            confirmed.publish_all(outgoing)  # a broker that went away ends the session: no acks
            with one_write(answered[0][0].channel if answered else None):  # the acks in one write
                for message, _ in answered:
                    message.ack()

        # A worker that only takes commands holds its replies for the followers process, and
        # takes the next batches meanwhile: the broker sends it three batches ahead.
        commands_only = settings.role == COMMANDS
        held = HeldReplies(SettledMark(service.engine, settings.follow_wait), answer_all)
        channel = conn.channel()
        consumer = Consumer(channel, queues=[topology.command_queue], on_message=pending.append)
        consumer.qos(prefetch_count=batching.BATCH * (3 if commands_only else 1))
        # Deliveries come three frames each, several batches ahead: read in chunks (amqp_socket.py).
        with consumer, reading_ahead(conn):
            session.consuming = True
            log.info("consuming from %s at %s", topology.queue, safe_url(url))
            if not commands_only:
                _relay(relay, worker.clock())
            next_tick = float("inf") if commands_only else 0.0
            idle = 0
            while not stop.is_set():
                if time.monotonic() >= next_tick:
                    tick_logged(worker.service, worker.clock())
                    _relay(relay, worker.clock())
                    next_tick = time.monotonic() + every
                wait = min(max(next_tick - time.monotonic(), 0.05), 0.5)
                try:
                    conn.drain_events(timeout=HELD_POLL if held.waiting else wait)
                    idle = 0
                    batching.collect(conn, pending)
                    batch, pending[:] = list(pending), []
                    if commands_only:
                        answered = batching.run_batch(worker, batch, settle=False)
                        held.hold(answered, service.app.recorder.max_notification_id() or 0)
                        continue
                    answer_all(batching.run_batch(worker, batch))
                    _relay(relay, worker.clock())
                except TimeoutError:
                    if held.waiting:
                        held.release()
                        continue
                    idle += 1
                    if once and idle >= 2:
                        return
                    conn.heartbeat_check()
            if once:
                held.flush(time.monotonic() + settings.follow_wait)


def _relay(relay: EventRelay, now: datetime) -> None:
    try:
        relay.catch_up(now)
    except Exception:
        # The position did not move: the same events go out on the next pump.
        log.exception("relaying events failed; will retry")
