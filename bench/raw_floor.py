"""The floor: the eventsourcing library alone on the same persistence, no BookIT code at all.

A small aggregate whose events carry a few strings and an instant, like BookIT's. Every BookIT
figure is read against these three rates, measured in the same run on the same store.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from common import NOW, fresh_store, rate, timed
from eventsourcing.application import Application
from eventsourcing.domain import Aggregate, event

from bookit.bootstrap import store_env


class Counter(Aggregate):
    @event("Started")
    def __init__(self, name: str, owner: str, at: datetime) -> None:
        self.name = name
        self.owner = owner
        self.count = 0

    @event("Bumped")
    def bump(self, by: int, actor: str, command_id: str, at: datetime) -> None:
        self.count += by


class RawApp(Application[Any]):
    name = "raw"


def run(store: str, size: dict[str, int]) -> dict[str, Any]:
    count, reads = size["aggregates"], size["read_passes"]
    with fresh_store(store) as (home, url):
        env, _ = store_env(home, url)
        app = RawApp(env=env)
        ids: list[Any] = []

        def create() -> None:
            for n in range(count):
                counter = Counter(name=f"counter {n}", owner="someone@example.org", at=NOW)
                app.save(counter)
                ids.append(counter.id)

        def command() -> None:
            for ident in ids:
                counter = app.repository.get(ident)
                counter.bump(by=1, actor="someone@example.org", command_id=str(ident), at=NOW)
                app.save(counter)

        def read() -> None:
            position = 1
            while page := app.recorder.select_notifications(start=position, limit=500):
                for notification in page:
                    app.mapper.to_domain_event(notification)
                position = page[-1].id + 1

        created = timed(create)
        commanded = timed(command)
        total = app.recorder.max_notification_id() or 0
        # Reading is fast: the best of a few passes is the floor, the others are noise.
        read_s = min(timed(read) for _ in range(reads))
        app.close()
    return {
        "figures": {
            "create_save_per_s": rate(count, created),
            "get_command_save_per_s": rate(count, commanded),
            "read_decode_per_s": rate(total, read_s),
        },
        "params": {"aggregates": count, "notifications": total, "read_passes": reads},
    }
