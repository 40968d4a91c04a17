"""Does a worker's memory stay flat as it handles more and more commands?

A worker's message path, in this process: the commands arrive as the JSON bodies a broker would
deliver, 64 at a time, and go through the worker's own batch step (`batching.run_batch`: decode,
parse, refusal check, each command's save, then the followers once: read models written, emails
delivered to the Maildir). The mix: a booking on a fresh
slot, every second booking confirmed, every tenth cancelled. The process's resident set (VmRSS,
not the high-water mark) is read after `first` commands and again after `total`; the growth
between them is the figure. The broker itself is left out: at the full sizes it would make a
100 000-command run take hours, and a broker connection holds no per-command state.
"""

from __future__ import annotations

import gc
import json
from itertools import count, islice
from typing import Any
from uuid import uuid4

from common import FakeClock, fresh_store, register_venues, service_for, timed
from throughput import booking_slots

from bookit.aggregates.base import derived_id
from bookit.entrypoints import batching
from bookit.entrypoints.bus_worker import CommandWorker


class Delivered:
    """What the batch step needs of a broker's message: its body, and a way to put it back."""

    def __init__(self, command: dict[str, Any], body: str) -> None:
        self.command = command
        self.body = body

    def requeue(self) -> None:
        raise AssertionError(f"{self.command['type']} failed and would have been requeued")


def rss_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


def _messages(venues: list[str], total: int) -> Any:
    """JSON bodies, as a broker delivers them: bookings, and confirmations and cancellations of
    bookings made just before."""
    slots = iter(booking_slots(venues, total))
    made: list[tuple[str, str]] = []
    for n in count():
        owner = f"owner{n % 5000:04d}@example.org"
        body: dict[str, Any] = {"command_id": str(uuid4()), "actor": owner}
        if n % 4 == 1 and made:
            booking_id, by = made.pop()
            body |= {"type": "ConfirmBooking", "booking_id": booking_id, "actor": by}
        elif n % 20 == 3 and made:
            booking_id, by = made.pop(0)
            body |= {"type": "CancelBooking", "booking_id": booking_id, "actor": by}
        else:
            slot = next(slots, None)
            if slot is None:
                return
            body |= {"type": "BookVenue", **slot}
            made.append((str(derived_id("booking", body["command_id"])), owner))  # BookIT's own id
        yield body, json.dumps(body)


def run(store: str, size: dict[str, int]) -> dict[str, Any]:
    first, total = size["first"], size["total"]
    with fresh_store(store) as (home, url):
        service = service_for(home, url, FakeClock())
        worker = CommandWorker(service, service.bus.clock)
        messages = _messages(register_venues(service, size["venues"]), total)
        rss: dict[int, float] = {}
        handled = 0

        def handle(until: int) -> None:
            nonlocal handled
            while handled < until:
                batch = [Delivered(body, raw) for body, raw in islice(messages, min(64, until - handled))]
                if not batch:
                    return
                for message, reply in batching.run_batch(worker, batch):  # type: ignore[arg-type]  # duck-typed message
                    if not reply.get("ok"):
                        raise AssertionError(f"{message.command['type']} refused: {reply}")
                    handled += 1

        seconds = timed(lambda: handle(first))
        gc.collect()
        rss[first] = rss_mb()
        seconds += timed(lambda: handle(total))
        gc.collect()
        rss[total] = rss_mb()
        service.close()
    return {
        "figures": {
            f"rss_after_{first}_mb": rss[first],
            f"rss_after_{total}_mb": rss[total],
            "growth_mb": max(rss[total] - rss[first], 0.001),
            "commands_per_s": handled / seconds,
        },
        "params": dict(size, handled=handled),
    }
