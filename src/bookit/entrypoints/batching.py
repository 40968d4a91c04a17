"""`bookit run --bus URL` takes commands in batches.

The worker lets the broker send it up to `BATCH` messages ahead (prefetch) and, once one has
arrived, waits at most `BATCH_WAIT` for more. Each command of a batch then runs on its own: its
own atomic save with its receipt, so one command's refusal never touches another's effects.
Only then do the followers catch up, once for the whole batch: one projection transaction, the
mailer's records and the Maildir's syncs for all of its emails, one round of event relaying.
Replies and acknowledgements go out after that, so a reply still means the command's events
are stored and what they caused is visible. A crash before the acknowledgements leaves every
message of the batch to be delivered again, and each is answered from its receipt (or its
recorded refusal) without a second effect.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

from kombu import Connection, Message

from bookit.entrypoints.refusal_records import refusals_among
from bookit.errors import BadInput, first_line
from bookit.observability import metrics, observe, tracing

if TYPE_CHECKING:
    from bookit.entrypoints.bus_worker import CommandWorker

log = logging.getLogger(__name__)

BATCH = 64  # messages the broker may send ahead, and the most one batch takes
BATCH_WAIT = 0.005  # seconds a batch waits for more after its first message
RETRY_PAUSE = 1.0


def collect(conn: Connection, pending: list[Message], limit: int = BATCH, wait: float = BATCH_WAIT) -> None:
    """Take what the broker has ready into `pending`, up to `limit` or for at most `wait` s."""
    deadline = time.monotonic() + wait
    while len(pending) < limit:
        left = deadline - time.monotonic()
        if left <= 0:
            return
        try:
            conn.drain_events(timeout=left)
        except TimeoutError:
            return


def command_ids(messages: list[Message]) -> list[str]:
    """The command_ids the batch's messages name (a message that names none is skipped here and
    refused when its turn comes)."""
    from bookit.entrypoints.bus_worker import command_id_in, decode  # bus_worker imports this module

    ids = []
    for message in messages:
        try:
            cid = command_id_in(decode(message.body))
        except BadInput:
            continue
        if cid is not None:
            ids.append(cid)
    return ids


def run_batch(
    worker: CommandWorker, messages: list[Message], settle: bool = True
) -> list[tuple[Message, dict[str, Any]]]:
    """Each message's reply, its command run on its own; the followers caught up once after
    (unless `settle` is False: a followers process does it, see held_replies.py).

    A message whose command failed for a reason that is not a refusal (the store went away) is
    put back and left out. If the followers fail, every message is put back: their commands are
    stored, and a redelivery answers them from their receipts once the followers can run."""
    replies: list[tuple[Message, dict[str, Any]]] = []
    failed = False
    refused, unhandled = _looked_up(worker, command_ids(messages))
    for message in messages:
        try:
            with tracing.incoming(getattr(message, "headers", None), "bus message") as trace:
                message.traceparent = trace.header  # type: ignore[attr-defined]  # for its reply
                reply = worker.outcome(message.body, settle=False, refused=refused, unhandled=unhandled)
            replies.append((message, reply))
        except Exception:
            log.exception("command failed; requeued for another try")
            message.requeue()
            metrics.bus_message("requeued")
            failed = True
    try:
        if settle:
            worker.service.bus.settle(worker.clock())
    except Exception:
        log.exception("the followers failed after a batch; its %d messages are requeued", len(replies))
        for message, _ in replies:
            message.requeue()
            metrics.bus_message("requeued")
        replies, failed = [], True
    for _, reply in replies:
        observe.bus_message(reply)
    if failed:
        time.sleep(RETRY_PAUSE)
    return replies


def _looked_up(worker: CommandWorker, ids: list[str]) -> tuple[dict[str, Any] | None, set[str] | None]:
    """The batch's earlier refusals and its command_ids without receipts, one query each. If the
    store fails them (a session killed mid-query), (None, None): each command then asks for
    itself, inside its own error handling, and the store's retries apply."""
    try:
        return refusals_among(worker.service.engine, ids), worker.service.app.unhandled(ids)
    except Exception as error:
        log.warning("a batch's look-ups failed (%s); each command looks for itself", first_line(error))
        return None, None
