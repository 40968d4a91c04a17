"""`bookit.testing`: the kit for tests of BookIT and of users' own rules (docs/testing.md).

- `FakeClock`: time that moves only when the test moves it;
- `scratch_service(tmp_path, rules=...)`: the real application on a throwaway SQLite store;
- `MemoryOutbox`: emails kept in a list instead of a Maildir;
- `check_invariants(service)`: docs/design.md's promises the stored history breaks (the checks of
  `bookit check`), as `Violation`s naming the events that prove them; `InvariantChecker` to feed
  one event at a time;
- `strategies`: hypothesis strategies for users, venues, slots, clock jumps (DST changes, local
  midnight) and interleaved command stories;
- `FairnessMachine`: a hypothesis state machine over the whole service, to subclass;
- a pytest plugin (`bookit.testing.plugin`) with the fixtures `bookit_service`, `fake_clock`
  and `bookit_rules`.

`strategies` and `FairnessMachine` need hypothesis (`pip install bookit-core[testing]`); they
are imported on first use, so the rest works without it.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from bookit.config import Rules
from bookit.testing.clock import FakeClock
from bookit.testing.invariants import InvariantChecker, Violation, check_invariants
from bookit.testing.scratch import MemoryOutbox, scratch_service

if TYPE_CHECKING:
    from bookit.testing.machine import FairnessMachine


def __getattr__(name: str) -> Any:
    if name == "FairnessMachine":
        from bookit.testing.machine import FairnessMachine

        return FairnessMachine
    if name == "strategies":
        return importlib.import_module("bookit.testing.strategies")
    raise AttributeError(f"module 'bookit.testing' has no attribute {name!r}")


__all__ = [
    "FairnessMachine",
    "FakeClock",
    "InvariantChecker",
    "MemoryOutbox",
    "Rules",
    "Violation",
    "check_invariants",
    "scratch_service",
]
