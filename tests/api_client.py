"""What the HTTP API tests share: tokens, the real server (uvicorn in a thread on a free port,
the way `bookit run` serves it beside the link pages) and an httpx client per person.

Importable by name from any test module: pytest puts this folder on sys.path for its conftest.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import httpx
import jwt

from bookit import commands as c
from bookit.aggregates.base import SYSTEM
from bookit.bootstrap import Service
from bookit.entrypoints.api import make_api
from bookit.entrypoints.link_pages import serve_links

SECRET = "test-secret-long-enough-for-hs256-and-for-hs512-tokens-as-well!!"
ENV = {"BOOKIT_API_SECRET": SECRET}


def token(sub: Any, lifetime: float = 3600, secret: str = SECRET, alg: str = "HS256", **claims: Any) -> str:
    """A token as an identity provider issues one; `exp` from the real clock (as PyJWT checks)."""
    payload = {"sub": sub, "exp": int(time.time() + lifetime), **claims}
    if sub is None:
        del payload["sub"]
    return jwt.encode(payload, secret, algorithm=alg)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def api_server(
    service: Service, bus_url: str = "local", env: Mapping[str, str] | None = None, port: int | None = None
) -> Iterator[str]:
    """Serve links + API on 127.0.0.1 until the block ends; yields the base URL."""
    port = port or free_port()
    api = make_api(service, bus_url, ENV if env is None else env)
    stop = threading.Event()
    server = threading.Thread(
        target=serve_links, args=(service, "127.0.0.1", port, stop), kwargs={"api": api}, daemon=True
    )
    server.start()
    try:
        wait_listening(port)
        yield f"http://127.0.0.1:{port}"
    finally:
        stop.set()
        server.join(timeout=30)
    assert not server.is_alive(), "the API server did not stop when asked"


def wait_listening(port: int, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.025)
    raise AssertionError(f"nothing listened on port {port}")


class People:
    """One httpx client per person, each sending that person's token."""

    def __init__(self, base: str) -> None:
        self.base = base
        self._clients: dict[str, httpx.Client] = {}

    def __call__(self, who: str) -> httpx.Client:
        if who not in self._clients:
            headers = {"Authorization": f"Bearer {token(who)}"}
            self._clients[who] = httpx.Client(base_url=self.base, headers=headers, timeout=60)
        return self._clients[who]

    def anonymous(self, **headers: str) -> httpx.Client:
        return httpx.Client(base_url=self.base, headers=headers, timeout=60)

    def close(self) -> None:
        for client in self._clients.values():
            client.close()


@contextmanager
def people_on(service: Service) -> Iterator[People]:
    """The API of `service` on a real server, and a `People` to call it as anyone."""
    with api_server(service) as base:
        crowd = People(base)
        try:
            yield crowd
        finally:
            crowd.close()


@contextmanager
def main_hall_with_admin(service: Service, admin: str) -> Iterator[People]:
    """`people_on(service)` after `admin` is made an admin and Main Hall (Europe/London) exists."""
    service.bus.handle(c.GrantAdmin(actor=SYSTEM, email=admin))
    service.bus.handle(c.RegisterVenue(actor=SYSTEM, name="Main Hall", tz="Europe/London"))
    with people_on(service) as crowd:
        yield crowd
