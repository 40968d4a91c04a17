"""The pytest plugin (entry point `pytest11`, name `bookit`): fixtures for users' own tests.

- `fake_clock`: a `FakeClock` at 2026-12-01 09:00 UTC;
- `bookit_rules`: the `Rules` the service runs with (the defaults: override this fixture in
  your conftest or test module to test your own lead times, offer window, limits);
- `bookit_service`: the real application on a scratch SQLite store, driven by `fake_clock`
  and `bookit_rules`, closed after the test.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bookit.bootstrap import Service
from bookit.config import Rules
from bookit.testing.clock import FakeClock
from bookit.testing.scratch import scratch_service


@pytest.fixture
def fake_clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def bookit_rules() -> Rules:
    return Rules()


@pytest.fixture
def bookit_service(tmp_path: Path, fake_clock: FakeClock, bookit_rules: Rules) -> Iterator[Service]:
    service = scratch_service(tmp_path, bookit_rules, clock=fake_clock)
    yield service
    service.close()
