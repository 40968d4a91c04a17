"""`bookit --bus URL <command>`: publish the command to the broker and wait for its outcome.

The command goes out as plain JSON (what any other service would send) with `reply_to` and
`correlation_id`; a worker answers on a private reply queue. The answer is turned back into what
a local run would have given, so the CLI's exit codes mean the same thing over the bus:
a reply's `kind` ("refused" or "bad_input", our addition to the contract's error replies) picks
`Refused` (exit 1) or `BadInput` (exit 2).

Two failures belong to the bus itself, and both exit 1 with their own code: `bus_unavailable`
(the broker cannot be reached: nothing was sent) and `no_reply` (sent, but no worker answered in
time, or the broker went away and did not come back in time: the command may still run, once,
whenever a worker takes it). A broker that goes away and comes back within the timeout is
waited for, and the command sent again under the same command_id.
"""

from __future__ import annotations

import json
import logging
import os
import time
from typing import Any
from uuid import uuid4

from kombu import Connection, Consumer, Message, Producer, Queue
from kombu.exceptions import OperationalError

from bookit.adapters.bus_topology import COMMANDS_KEY, Topology, safe_url
from bookit.commands import Command
from bookit.errors import BadInput, BookitError, Refused
from bookit.observability import tracing

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 30.0
CONNECT_TIMEOUT = 5.0


class BusUnavailable(BookitError):
    exit_code = 1

    def __init__(self, url: str, why: object) -> None:
        super().__init__(f"cannot reach the message bus at {safe_url(url)}: {why}", "bus_unavailable")


class NoReply(BookitError):
    exit_code = 1

    def __init__(self, command: Command, timeout: float, lost_bus: bool = False) -> None:
        why = "the message bus went away and did not come back" if lost_bus else "no worker answered"
        super().__init__(
            f"{why}: no outcome for {type(command).__name__} {command.command_id} within {timeout:g}s; "
            "if it was queued it will be handled once when a worker takes it, and sending it again "
            "with the same command_id is safe",
            "no_reply",
        )


def default_timeout() -> float:
    return float(os.environ.get("BOOKIT_BUS_TIMEOUT", DEFAULT_TIMEOUT))


def error_from_reply(reply: dict[str, Any]) -> BookitError:
    message = str(reply.get("error", "refused"))
    code = str(reply.get("code", "refused"))
    if reply.get("kind") == "bad_input":
        return BadInput(message, code)
    return Refused(message, code)


def send_and_wait(
    url: str, command: Command, timeout: float | None = None, topology: Topology | None = None
) -> dict[str, Any]:
    """Publish `command`, wait for the worker's reply; raise the matching BookitError if refused.

    A broker that cannot be reached at first is `BusUnavailable` at once (nothing was sent). One
    that goes away later (a restart while we wait) is waited for until the timeout, and the
    command is sent again with the same command_id: it has one effect whichever copy a worker
    takes, and the reply to either is the first outcome."""
    topology = topology or Topology.from_env()
    timeout = default_timeout() if timeout is None else timeout
    deadline = time.monotonic() + timeout
    body = json.dumps(command.model_dump(mode="json"))
    conn = _connect(url)
    try:
        while True:
            try:
                reply = _publish_and_wait(conn, topology, body, command, deadline, timeout)
                break
            except _lost(conn) as error:
                log.warning("lost the message bus at %s (%s); will send again", safe_url(url), error)
                conn.release()
                conn = _reconnect(url, command, deadline, timeout)
    finally:
        conn.release()
    if reply.get("ok"):
        result: dict[str, Any] = reply.get("result", {})
        return result
    raise error_from_reply(reply)


def _connection(url: str) -> Connection:
    # Publisher confirms where the transport has them: once publish returns, the command is
    # on the broker (durable queue, persistent message) and survives a broker restart.
    scheme = url.split("://", 1)[0].split("+")[0]
    options = {"confirm_publish": True} if scheme in ("amqp", "pyamqp", "amqps") else {}
    return Connection(url, connect_timeout=CONNECT_TIMEOUT, transport_options=options)


def _lost(conn: Connection) -> tuple[type[BaseException], ...]:
    return (OSError, OperationalError, *conn.connection_errors)


def _connect(url: str) -> Connection:
    conn = _connection(url)
    try:
        conn.ensure_connection(max_retries=1, interval_start=0.5)
    except _lost(conn) as error:
        conn.release()
        raise BusUnavailable(url, error) from None
    return conn


def _reconnect(url: str, command: Command, deadline: float, timeout: float) -> Connection:
    pause = 0.5
    while time.monotonic() + pause < deadline:
        time.sleep(pause)
        conn = _connection(url)
        try:
            conn.ensure_connection(max_retries=1, interval_start=0.5)
            return conn
        except _lost(conn):
            conn.release()
            pause = min(pause * 2, 5.0)
    raise NoReply(command, timeout, lost_bus=True)


def _publish_and_wait(
    conn: Connection, topology: Topology, body: str, command: Command, deadline: float, timeout: float
) -> dict[str, Any]:
    correlation_id = str(uuid4())
    reply_queue = Queue(
        f"{topology.queue}.reply.{correlation_id}", exclusive=True, auto_delete=True, durable=False
    )
    replies: list[dict[str, Any]] = []

    def on_reply(message: Message) -> None:
        if message.properties.get("correlation_id") == correlation_id:
            replies.append(json.loads(message.body))
        message.ack()

    with conn.channel() as channel:
        reply_queue(channel).declare()
        with Consumer(channel, queues=[reply_queue], on_message=on_reply):
            Producer(channel).publish(
                body,
                exchange=topology.command_exchange,
                routing_key=COMMANDS_KEY,
                declare=[topology.command_queue],
                content_type="application/json",
                content_encoding="utf-8",
                delivery_mode=2,
                reply_to=reply_queue.name,
                correlation_id=correlation_id,
                headers=tracing.current_headers(),
            )
            _wait(conn, replies, deadline, command, timeout)
    return replies[0]


def _wait(
    conn: Connection, replies: list[dict[str, Any]], deadline: float, command: Command, timeout: float
) -> None:
    while not replies:
        left = deadline - time.monotonic()
        if left <= 0:
            raise NoReply(command, timeout)
        try:
            conn.drain_events(timeout=min(left, 1.0))
        except TimeoutError:
            continue
