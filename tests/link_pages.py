"""What the link-page tests share: the button links in an email, and the links server itself
(uvicorn in a thread, as `bookit run` starts it) on a free port.

Importable by name from any test module: pytest puts this folder on sys.path for its conftest.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from email.message import EmailMessage
from html.parser import HTMLParser

from bookit.bootstrap import Service
from bookit.entrypoints.link_pages import serve_links


class _Anchors(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.links: dict[str, str] = {}
        self._href: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            self._href = dict(attrs).get("href")

    def handle_data(self, data: str) -> None:
        if self._href and data.strip():
            self.links[data.strip()] = self._href
            self._href = None


def buttons(message: EmailMessage) -> dict[str, str]:
    """The email's HTML links by the words on them: {"Confirm": "http://…/l/…", …}."""
    html_part = message.get_body(("html",))
    assert html_part is not None, "the email has no HTML part"
    anchors = _Anchors()
    anchors.feed(html_part.get_content())
    return anchors.links


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def links_server(service: Service, port: int) -> Iterator[None]:
    """The real links server on 127.0.0.1:`port` until the block ends; it must stop when asked."""
    stop = threading.Event()
    server = threading.Thread(target=serve_links, args=(service, "127.0.0.1", port, stop), daemon=True)
    server.start()
    try:
        for _ in range(400):
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", port)) == 0:
                    break
            stop.wait(0.025)
        else:
            raise AssertionError(f"the links server never listened on port {port}")
        yield
    finally:
        stop.set()
        server.join(timeout=30)
    assert not server.is_alive(), "the links server did not stop when asked"
