"""A `--commands-only` worker's replies wait for the followers' settled mark, in order, for a
bounded time; a worker that gave up waiting answers at once until the followers catch up.

On a real read-model database (SQLite in a temp dir); the "replies" are what the worker would
publish, collected in the order it answers them.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from bookit.entrypoints.held_replies import HeldReplies
from bookit.projections.database import make_engine
from bookit.settled import SettledMark, mark_settled, settled_position


@pytest.fixture
def engine(tmp_path: Path) -> Engine:
    return make_engine(f"sqlite:///{tmp_path / 'readmodels.sqlite'}")


def held(engine: Engine, wait: float) -> tuple[HeldReplies, list[Any]]:
    answered: list[Any] = []
    return HeldReplies(SettledMark(engine, wait), answered.extend), answered


def batch(*names: str) -> Any:
    return [(name, {"ok": True}) for name in names]


def test_replies_wait_until_the_followers_pass_their_batch_and_go_in_order(engine: Engine) -> None:
    replies, answered = held(engine, wait=30)
    replies.hold(batch("a1", "a2"), target=10)
    replies.hold(batch("b1"), target=20)
    assert answered == []

    mark_settled(engine, 15)
    replies.release()
    assert [name for name, _ in answered] == ["a1", "a2"]

    mark_settled(engine, 20)
    replies.release()
    assert [name for name, _ in answered] == ["a1", "a2", "b1"]
    assert not replies.waiting


def test_the_mark_never_moves_back(engine: Engine) -> None:
    mark_settled(engine, 20)
    mark_settled(engine, 5)  # a second followers process that was behind
    assert settled_position(engine) == 20


def test_after_a_wait_runs_out_replies_go_at_once_until_the_followers_catch_up(engine: Engine) -> None:
    replies, answered = held(engine, wait=0.05)
    replies.hold(batch("a"), target=10)
    time.sleep(0.06)
    replies.release()
    assert [name for name, _ in answered] == ["a"]  # answered though nothing followed it

    replies.hold(batch("b"), target=12)
    assert [name for name, _ in answered] == ["a", "b"]  # no second wait

    mark_settled(engine, 10)  # the followers passed where the wait gave up: wait again
    replies.hold(batch("c"), target=14)
    assert [name for name, _ in answered] == ["a", "b"]
    mark_settled(engine, 14)
    replies.release()
    assert [name for name, _ in answered] == ["a", "b", "c"]


def test_no_wait_answers_at_once(engine: Engine) -> None:
    replies, answered = held(engine, wait=0)
    replies.hold(batch("a"), target=10**6)
    assert [name for name, _ in answered] == ["a"]
