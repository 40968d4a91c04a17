"""py-amqp's socket, used sparingly: frames written at once, frames read in chunks.

py-amqp writes each frame set with a `sendall` of its own and reads each frame with three
`recv`s (its head, its payload, its end octet), each wrapped in two changes of the socket's
timeout; before every publish it also tries a non-blocking read, in case the broker said the
connection is blocked. Per message that is a handful of system calls, and on this machine they
were most of the CPU of publishing with confirms. These helpers keep py-amqp's framing and its
buffers and change only how often the socket is touched:

- `one_write`: what a block writes (a list of publishes, a batch's acks) goes out in one write;
- `publish`: a publish without the read before it; `look_for_blocked` does that read once a list;
- `reading_ahead`: inside the block, reads ask for a few kilobytes and keep the rest in py-amqp's
  own read buffer, where its reader looks first; frames already whole there are handled
  without a system call.

Any other transport (Redis, TLS for writes) is used as it always is.
"""

from __future__ import annotations

import contextlib
import socket
import struct
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from amqp import spec
from amqp.exceptions import RecoverableConnectionError
from kombu import Connection


def look_for_blocked(channel: Any) -> None:
    """Handle what the broker has sent (a `connection.blocked` it sends when short of memory or
    disk, a confirm), without waiting: py-amqp's `basic_publish` does this before every message,
    a non-blocking read that mostly finds nothing. A list is written at once, so once a list."""
    capabilities = channel.connection.client_properties.get("capabilities", {})
    if capabilities.get("connection.blocked", False):
        with contextlib.suppress(socket.timeout):
            channel.connection.drain_events(timeout=0)


def publish(channel: Any, message: Any, exchange: str, routing_key: str) -> None:
    """py-amqp's `basic_publish` without the read before it (`look_for_blocked`)."""
    if not channel.connection:
        raise RecoverableConnectionError("basic_publish: connection closed")
    channel.send_method(spec.Basic.Publish, "Bssbb", (0, exchange, routing_key, False, False), message)


@contextmanager
def one_write(channel: Any) -> Iterator[None]:
    """Gather what the channel's connection writes inside the block and write it once at the end
    (through the transport's own `write`, so a lost connection is noticed as before). Frames are
    copied as they come: py-amqp reuses one buffer for every frame. Nothing is written if the
    block fails (a publisher then drops its channel; unwritten acks leave their messages to come
    again). A transport without py-amqp's `_write` (not py-amqp) writes as it always does."""
    transport = getattr(getattr(channel, "connection", None), "transport", None)
    if transport is None or not hasattr(transport, "_write"):
        yield
        return
    own = vars(transport).get("_write")  # TCP: the socket's sendall; TLS: none (a method)
    parts: list[bytes] = []
    transport._write = lambda data: parts.append(bytes(data))
    try:
        yield
    finally:
        if own is None:
            del transport._write
        else:
            transport._write = own
    if parts:
        transport.write(b"".join(parts))


# Bytes asked of the socket at once. Not more: py-amqp slices what is left of its buffer after
# every piece it takes, so a large buffer costs more in copies than it saves in system calls.
READ_AHEAD = 4096
_FRAME_HEAD = struct.Struct(">BHI")  # an AMQP frame: type, channel, payload size; then the end octet


@contextmanager
def reading_ahead(broker: Connection) -> Iterator[Callable[[], bool]]:
    """Inside the block, py-amqp's TCP transport asks the socket for up to READ_AHEAD bytes
    where it would ask for just the few a frame's next piece needs; what comes beyond them stays
    in its read buffer, where its reader looks first. The block gets a function that handles
    the next frame if it is already whole in that buffer (no system call, so no timeout is
    needed) and says whether it did. Any other transport reads as it always does, and the
    function always says no."""
    connection: Any = getattr(broker, "connection", None)
    transport: Any = getattr(connection, "transport", None)
    own = vars(transport).get("_quick_recv") if transport is not None else None
    if own is None or not hasattr(transport, "_read_buffer"):
        yield lambda: False
        return

    def next_buffered() -> bool:
        buffered = transport._read_buffer
        if len(buffered) < _FRAME_HEAD.size:
            return False
        _, _, size = _FRAME_HEAD.unpack_from(buffered)
        if len(buffered) < _FRAME_HEAD.size + size + 1:
            return False
        connection.on_inbound_frame(transport.read_frame())
        return True

    transport._quick_recv = lambda n: own(max(n, READ_AHEAD))
    try:
        yield next_buffered
    finally:
        transport._quick_recv = own
