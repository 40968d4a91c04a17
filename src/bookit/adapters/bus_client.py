"""`bookit --bus URL <command>`: publish the command to the broker and wait for its outcome.

The command goes out as plain JSON (what any other service would send) with `reply_to` and
`correlation_id`; a worker answers on a private reply queue. The answer is turned back into what
a local run would have given, so the CLI's exit codes mean the same thing over the bus:
a reply's `kind` ("refused" or "bad_input", our addition to the contract's error replies) picks
`Refused` (exit 1) or `BadInput` (exit 2).

Two failures belong to the bus itself, and both exit 1 with their own code: `bus_unavailable`
(the broker cannot be reached: nothing was sent) and `no_reply` (sent, but no worker answered in
time: the command may still run, once, whenever a worker takes it).
"""

from __future__ import annotations

import json
import os
import time
from typing import Any
from uuid import uuid4

from kombu import Connection, Consumer, Message, Producer, Queue
from kombu.exceptions import OperationalError

from bookit.adapters.bus_topology import COMMANDS_KEY, Topology, safe_url
from bookit.commands import Command
from bookit.errors import BadInput, BookitError, Refused

DEFAULT_TIMEOUT = 30.0
CONNECT_TIMEOUT = 5.0


class BusUnavailable(BookitError):
    exit_code = 1

    def __init__(self, url: str, why: object) -> None:
        super().__init__(f"cannot reach the message bus at {safe_url(url)}: {why}", "bus_unavailable")


class NoReply(BookitError):
    exit_code = 1

    def __init__(self, command: Command, timeout: float) -> None:
        super().__init__(
            f"no worker answered {type(command).__name__} {command.command_id} within {timeout:g}s; "
            "it stays queued and will be handled once when a worker is running",
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
    """Publish `command`, wait for the worker's reply; raise the matching BookitError if refused."""
    topology = topology or Topology.from_env()
    timeout = default_timeout() if timeout is None else timeout
    correlation_id = str(uuid4())
    reply_queue = Queue(
        f"{topology.queue}.reply.{correlation_id}", exclusive=True, auto_delete=True, durable=False
    )
    replies: list[dict[str, Any]] = []

    def on_reply(message: Message) -> None:
        if message.properties.get("correlation_id") == correlation_id:
            replies.append(json.loads(message.body))
        message.ack()

    conn = Connection(url, connect_timeout=CONNECT_TIMEOUT)
    try:
        try:
            conn.ensure_connection(max_retries=1, interval_start=0.5)
        except (OperationalError, OSError, *conn.connection_errors) as error:
            raise BusUnavailable(url, error) from None
        with conn.channel() as channel:
            reply_queue(channel).declare()
            with Consumer(channel, queues=[reply_queue], on_message=on_reply):
                Producer(channel).publish(
                    json.dumps(command.model_dump(mode="json")),
                    exchange=topology.command_exchange,
                    routing_key=COMMANDS_KEY,
                    declare=[topology.command_queue],
                    content_type="application/json",
                    content_encoding="utf-8",
                    delivery_mode=2,
                    reply_to=reply_queue.name,
                    correlation_id=correlation_id,
                )
                _wait(conn, replies, timeout, command)
    finally:
        conn.release()
    reply = replies[0]
    if reply.get("ok"):
        result: dict[str, Any] = reply.get("result", {})
        return result
    raise error_from_reply(reply)


def _wait(conn: Connection, replies: list[dict[str, Any]], timeout: float, command: Command) -> None:
    deadline = time.monotonic() + timeout
    while not replies:
        left = deadline - time.monotonic()
        if left <= 0:
            raise NoReply(command, timeout)
        try:
            conn.drain_events(timeout=min(left, 1.0))
        except TimeoutError:
            continue
