"""The broker objects of docs/contract.md "Bus messages", named in one place.

Commands go to the direct exchange `bookit` with routing key `commands` and wait in the durable
queue `bookit.commands`; events leave through the topic exchange `bookit.events`. Setting
BOOKIT_BUS_PREFIX puts a prefix on every name, so that tests (or two environments on one broker)
never read each other's messages.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

from kombu import Exchange, Queue

COMMANDS_KEY = "commands"


@dataclass(frozen=True)
class Topology:
    exchange: str = "bookit"
    queue: str = "bookit.commands"
    events: str = "bookit.events"

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Topology:
        prefix = (os.environ if env is None else env).get("BOOKIT_BUS_PREFIX", "")
        if not prefix:
            return cls()
        defaults = cls()
        return cls(
            exchange=f"{prefix}.{defaults.exchange}",
            queue=f"{prefix}.{defaults.queue}",
            events=f"{prefix}.{defaults.events}",
        )

    @property
    def command_exchange(self) -> Exchange:
        return Exchange(self.exchange, type="direct", durable=True)

    @property
    def command_queue(self) -> Queue:
        return Queue(self.queue, self.command_exchange, routing_key=COMMANDS_KEY, durable=True)

    @property
    def event_exchange(self) -> Exchange:
        return Exchange(self.events, type="topic", durable=True)


def safe_url(url: str) -> str:
    """A broker or store URL without its password, fit for an error message or a log line."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{parts.username}:***@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))
