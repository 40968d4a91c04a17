"""The HTTP API's cost: `POST /api/bookings` and `GET /api/bookings/{id}` over real HTTP (uvicorn
in a thread, as `bookit run` serves it, an httpx client with keep-alive) against the same work
done in-process in the same run: `service.bus.handle(BookVenue)` and the read query the route
uses. Calls alternate one by one (direct, API, direct, ...) so a growing store weighs on both
alike. Rates are calls per second of the time spent in them; p50/p99 are per-call latencies.
"""

from __future__ import annotations

import socket
import statistics
import threading
import time
from typing import Any

import httpx
import jwt
from common import FakeClock, fresh_store, register_venues, service_for
from throughput import booking_slots

from bookit import commands as c
from bookit.entrypoints.api import make_api
from bookit.entrypoints.link_pages import serve_links
from bookit.projections import queries

SECRET = "bench-secret-long-enough-for-hs256-use"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _timed(samples: list[float], fn: Any, *args: Any, **kwargs: Any) -> Any:
    started = time.perf_counter()
    result = fn(*args, **kwargs)
    samples.append(time.perf_counter() - started)
    return result


def _summary(prefix: str, samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return {
        f"{prefix}_per_s": len(samples) / sum(samples),
        f"{prefix}_p50_ms": statistics.median(ordered) * 1000,
        f"{prefix}_p99_ms": p99 * 1000,
    }


def run(store: str, size: dict[str, int]) -> dict[str, Any]:
    count, reads = size["book"], size["reads"]
    with fresh_store(store) as (home, url):
        service = service_for(home, url, FakeClock())
        slots = booking_slots(register_venues(service, size["venues"]), 2 * count)
        port = _free_port()
        stop = threading.Event()
        api = make_api(service, "local", {"BOOKIT_API_SECRET": SECRET})
        server = threading.Thread(
            target=serve_links, args=(service, "127.0.0.1", port, stop), kwargs={"api": api}
        )
        server.start()
        _wait(port)
        user = "bench@example.org"
        token = jwt.encode({"sub": user, "exp": int(time.time()) + 3600}, SECRET, algorithm="HS256")
        headers = {"Authorization": f"Bearer {token}"}
        direct_book: list[float] = []
        api_book: list[float] = []
        booked: list[str] = []
        try:
            with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers=headers) as client:
                for n in range(count):
                    done = _timed(direct_book, service.bus.handle, c.BookVenue(actor=user, **slots[2 * n]))
                    booked.append(done["booking_id"])
                    answer = _timed(api_book, client.post, "/api/bookings", json=slots[2 * n + 1])
                    if answer.status_code != 201:
                        raise AssertionError(f"POST /api/bookings: {answer.status_code} {answer.text}")
                    booked.append(answer.json()["booking_id"])
                direct_show: list[float] = []
                api_show: list[float] = []
                for n in range(reads):
                    booking_id = booked[n % len(booked)]
                    _timed(direct_show, queries.booking, service.engine, booking_id)
                    answer = _timed(api_show, client.get, f"/api/bookings/{booking_id}")
                    if answer.status_code != 200:
                        raise AssertionError(f"GET /api/bookings/{{id}}: {answer.status_code}")
        finally:
            stop.set()
            server.join(timeout=30)
            service.close()
    figures = (
        _summary("api_book", api_book)
        | _summary("direct_book", direct_book)
        | _summary("api_show", api_show)
        | _summary("direct_show", direct_show)
    )
    return {"figures": figures, "params": dict(size)}


def _wait(port: int) -> None:
    for _ in range(400):
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.025)
    raise AssertionError(f"the API never listened on port {port}")
