"""How long a command waits for a busy embedded store: 30 s, or `BOOKIT_SQLITE_LOCK_TIMEOUT`."""

from __future__ import annotations

from pathlib import Path

import pytest

from bookit.stores import store_env


def test_the_lock_timeout_is_30_seconds_unless_the_operator_sets_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("BOOKIT_SQLITE_LOCK_TIMEOUT", raising=False)
    assert store_env(tmp_path, "sqlite")[0]["SQLITE_LOCK_TIMEOUT"] == "30"
    monkeypatch.setenv("BOOKIT_SQLITE_LOCK_TIMEOUT", " 12.5 ")
    assert store_env(tmp_path, "sqlite")[0]["SQLITE_LOCK_TIMEOUT"] == "12.5"


@pytest.mark.parametrize("value", ["soon", "0", "-3", "7200", "nan"])
def test_a_lock_timeout_that_is_not_a_sensible_number_of_seconds_is_refused_by_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("BOOKIT_SQLITE_LOCK_TIMEOUT", value)
    with pytest.raises(ValueError, match=f"BOOKIT_SQLITE_LOCK_TIMEOUT='{value}': give seconds"):
        store_env(tmp_path, "sqlite")
