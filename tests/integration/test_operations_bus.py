"""Operations across the bus and the mail server, on real processes: a trace sent on an HTTP
request reaches the worker's log line, the stored events, the event out and the reply on
RabbitMQ; `--processes N` gathers its children's counts; a failing SMTP server is counted."""

# ruff: noqa: F811

from __future__ import annotations

import contextlib
import json
import uuid
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from kombu import Connection, Consumer, Exchange, Producer, Queue
from servers import bookit_json, free_port, pg_store, rabbitmq, topology, wait_until  # noqa: F401
from test_operations import ANN, BOB, SENT, TRACE_ID, Start, add_venue, book, commands_moved, start  # noqa: F401

from bookit.adapters.bus_topology import COMMANDS_KEY, Topology


def test_a_traceparent_sent_over_http_reaches_the_worker_log_the_events_and_the_messages_out(
    pg_store: str, rabbitmq: str, topology: Topology, start: Start, tmp_path: Path
) -> None:
    home = str(tmp_path / "home")
    add_venue(home, "--store", pg_store)
    with Connection(rabbitmq) as conn:
        events_out = Queue(f"{topology.events}.test", Exchange(topology.events, "topic", durable=True), "#")
        events_out(conn.channel()).declare()
        worker = start("--store", pg_store, "--bus", rabbitmq)
        wait_until(
            lambda: any("consuming from" in x["msg"] for x in worker.logged()), "the worker to consume"
        )
        made = book(worker.base, ANN, 9, {"traceparent": SENT})
        assert made.status_code == 201, made.text
        booking_id = made.json()["booking_id"]
        # The worker's log line about the command, with the trace the request was sent with.
        lines = wait_until(
            lambda: [
                x
                for x in worker.logged()
                if x.get("command") == "BookVenue" and x.get("trace_id") == TRACE_ID
            ],
            "the worker's log line",
        )
        assert lines[0]["outcome"] == "ok"
        # Every event the command stored carries it.
        code, history = bookit_json("--home", home, "--store", pg_store, "history", booking_id)
        assert code == 0 and history["data"]["traceparent"].split("-")[1] == TRACE_ID
        # The events out carry it as a header, and their bodies stay the contract's.
        got: list[Any] = []
        with Consumer(conn.channel(), queues=[events_out], callbacks=[lambda b, m: got.append(m)]):
            wait_until(lambda: _drained(conn) or any(_is_booked(m, booking_id) for m in got), "the event out")
        booked = next(m for m in got if _is_booked(m, booking_id))
        assert booked.headers["traceparent"].split("-")[1] == TRACE_ID
        assert "traceparent" not in json.loads(booked.body)
        # A command message with a traceparent gets its reply with the same trace.
        reply = _send(conn, topology, {"traceparent": SENT.replace("00f067aa", "11f067aa")})
        assert reply.headers["traceparent"].split("-")[1] == TRACE_ID
        events_out(conn.channel()).delete()


def _drained(conn: Connection) -> bool:
    """Let the consumers' callbacks run for a moment (never done: the caller decides)."""
    with contextlib.suppress(TimeoutError):
        conn.drain_events(timeout=0.2)
    return False


def _is_booked(message: Any, booking_id: str) -> bool:
    body = json.loads(message.body)
    return bool(body.get("type") == "booking.booked" and body.get("aggregate_id") == booking_id)


def _send(conn: Connection, topology: Topology, headers: dict[str, str]) -> Any:
    replies: list[Any] = []
    channel = conn.channel()
    reply_queue = Queue(f"{topology.queue}.reply.{uuid.uuid4()}", exclusive=True, auto_delete=True)
    reply_queue(channel).declare()
    body = {
        "type": "LeaveWaitlist",
        "command_id": str(uuid.uuid4()),
        "actor": ANN,
        "entry_id": str(uuid.uuid4()),
    }
    with Consumer(channel, queues=[reply_queue], callbacks=[lambda b, m: replies.append(m)]):
        Producer(channel).publish(
            json.dumps(body),
            exchange=topology.command_exchange,
            routing_key=COMMANDS_KEY,
            content_type="application/json",
            reply_to=reply_queue.name,
            correlation_id="c1",
            headers=headers,
        )
        wait_until(lambda: _drained(conn) or replies, "the reply")
    return replies[0]


def test_processes_n_gathers_every_child_s_counts_and_cleans_its_metrics_directory(
    pg_store: str, rabbitmq: str, topology: Topology, start: Start, tmp_path: Path
) -> None:
    home = str(tmp_path / "home")
    add_venue(home, "--store", pg_store)
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    parent = start(
        "--store", pg_store, "--bus", rabbitmq, run_options=("--processes", "2"), env={"TMPDIR": str(scratch)}
    )
    (directory,) = list(scratch.glob("bookit-metrics-*"))
    before = parent.metrics()
    n = 4
    for hour in range(8, 8 + n):
        assert book(parent.base, ANN, hour).status_code == 201
    # The commands ran in the command worker; the followers child serving /metrics adds its counts.
    after = wait_until(
        lambda: commands_moved(before, m := parent.metrics()) == n and m, "the workers' counts"
    )
    assert commands_moved(before, after, command="BookVenue", outcome="ok") == n
    assert list(directory.glob("*.db")), "each child writes its counts there"
    parent.stop()
    assert not directory.exists(), "bookit run removes the metrics directory it made"


class FailingMailhost:
    """Refuses one recipient for good (550) and everybody else for now (451)."""

    def __init__(self) -> None:
        self.port = free_port()
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port)

    async def handle_RCPT(  # noqa: N802
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        return "550 5.1.1 no such mailbox" if address == ANN else "451 4.3.0 try again later"


def test_a_failing_smtp_server_moves_emails_total_and_the_oldest_pending_gauge(
    start: Start, tmp_path: Path
) -> None:
    mailhost = FailingMailhost()
    mailhost.controller.start()
    try:
        home = str(tmp_path / "home")
        add_venue(home)
        service = start(
            env={"BOOKIT_SMTP": f"smtp://127.0.0.1:{mailhost.port}", "BOOKIT_MAIL_RETRY_SECONDS": "600"}
        )
        before = service.metrics()
        assert book(service.base, ANN, 9).status_code == 201  # its receipt: refused for good
        assert book(service.base, BOB, 10).status_code == 201  # its receipt: deferred

        def moved(outcome: str) -> float:
            key = ("bookit_emails_total", (("kind", "booking-confirmed"), ("outcome", outcome)))
            return service.metrics().get(key, 0) - before.get(key, 0)

        assert moved("refused") == 1
        assert moved("deferred") == 1
        assert moved("delivered") == 0
        # Bob's receipt waits (the next try is ten minutes away): the oldest pending email ages.
        first = service.metrics()[("bookit_outbox_oldest_pending_seconds", ())]
        later = wait_until(
            lambda: (v := service.metrics()[("bookit_outbox_oldest_pending_seconds", ())]) > first + 1 and v,
            "the oldest pending email to age",
        )
        assert later > 1
        text = service.err.read_text()
        assert ANN not in text and BOB not in text  # the server's replies name them; the log does not
    finally:
        mailhost.controller.stop()
