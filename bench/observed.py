"""Issue 26's bench figure: the command rate with metrics and JSON logging on, over the rate
with both off, in the same run.

Two fresh stores, the same bookings and confirmations in local mode (each command settles its
followers, as `bookit run` does). "On" is what `BOOKIT_LOG_FORMAT=json bookit run` does: every
command counted (bookit_commands_total, bookit_command_seconds, bookit_events_stored_total,
bookit_emails_total) and one JSON log line written per command to a real file, at INFO.
"Off" counts nothing and logs nothing per command (observe.counting = False, the root logger
at WARNING). Trace context flows in both (it is stored in every event: not optional). Rounds
alternate, and the best round of each counts, so a busy moment on a shared machine hurts both.
"""

from __future__ import annotations

import logging
import tempfile
from typing import Any

from common import FakeClock, fresh_store, rate, register_venues, service_for, timed
from throughput import booking_slots

from bookit import commands as c
from bookit.observability import logs, observe


def run(store: str, size: dict[str, int]) -> dict[str, Any]:
    books, rounds = size["book"], size.get("rounds", 3)
    best = {False: 0.0, True: 0.0}
    root = logging.getLogger()
    with (
        fresh_store(store) as (off_home, off_url),
        fresh_store(store) as (on_home, on_url),
        tempfile.TemporaryFile("w+") as log_file,
    ):
        services = {
            False: service_for(off_home, off_url, FakeClock()),
            True: service_for(on_home, on_url, FakeClock()),
        }
        slots = {}
        for on, service in services.items():
            slots[on] = booking_slots(register_venues(service, size["venues"]), books * rounds)
        for n in range(rounds):
            for on, service in services.items():
                observe.counting = on
                if on:
                    logs.configure(stream=log_file, fmt="json")
                else:
                    for handler in list(root.handlers):
                        root.removeHandler(handler)
                    root.setLevel(logging.WARNING)
                batch = slots[on][n * books : (n + 1) * books]

                def work(batch: list[dict[str, str]] = batch, service: Any = service, n: int = n) -> None:
                    for k, slot in enumerate(batch):
                        owner = f"owner{k % 50:03d}@example.org"
                        booked = service.bus.handle(c.BookVenue(actor=owner, **slot))
                        service.bus.handle(c.ConfirmBooking(actor=owner, booking_id=booked["booking_id"]))

                best[on] = max(best[on], rate(2 * books, timed(work)))
        observe.counting = True
        log_file.seek(0)
        lines = sum(1 for _ in log_file)
        for service in services.values():
            service.close()
    figures = {"commands_off_per_s": best[False], "commands_on_per_s": best[True]}
    return {"figures": figures, "params": dict(size) | {"log_lines": lines}}
