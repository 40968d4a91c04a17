"""A `--commands-only` worker's replies, held until the followers process has caught up.

Such a worker runs a batch's commands (each its own atomic save) and leaves the read models, the
emails and the follow-up commands to a followers process. It could reply at once: the contract
asks only that a command's events be stored before its message is acknowledged. It keeps the
stronger promise of a combined worker instead, that what a reply's command caused is visible
(the read models show it, its emails are delivered), by holding the batch's replies until the
followers' settled mark (`bookit.settled`) passes the last event stored when the batch ended,
for at most `--follow-wait` seconds.

The wait is pipelined: while a batch's replies are held, the worker takes and runs the next
batch (the broker sends twice a batch ahead), so the worker and the followers work at once.
Held batches are answered in order. A batch still held after the wait is answered anyway (its
events are stored), and so is every batch after it, without waiting, until the mark passes
where that wait gave up (see `SettledMark`): a reply then means only that the events are stored.
A worker that stops or loses its broker with replies held leaves their messages unacknowledged:
the broker delivers them again, and they are answered from their receipts.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from kombu import Message

from bookit.settled import SettledMark

Answered = list[tuple[Message, dict[str, Any]]]


@dataclass(frozen=True)
class Held:
    answered: Answered
    target: int  # the last stored event when the batch ended
    deadline: float  # time.monotonic() after which it is answered anyway


class HeldReplies:
    def __init__(self, mark: SettledMark, answer_all: Callable[[Answered], None]) -> None:
        self.mark = mark
        self.answer_all = answer_all
        self._held: deque[Held] = deque()

    @property
    def waiting(self) -> bool:
        return bool(self._held)

    def hold(self, answered: Answered, target: int) -> None:
        """Hold a batch's replies until the followers pass `target`, or answer them at once when
        the worker does not wait (`--follow-wait 0`, or the followers are not keeping up)."""
        if not answered:
            return
        if self.mark.wait <= 0:
            self.answer_all(answered)
            return
        self._held.append(Held(answered, target, time.monotonic() + self.mark.wait))
        self.release()

    def release(self) -> None:
        """Answer, in order, every held batch the followers have passed (one read of the mark),
        or whose wait is over."""
        if not self._held:
            return
        self.mark.read()
        ready: Answered = []
        while self._held:
            first = self._held[0]
            if self.mark.position < first.target and self.mark.waiting_for_followers:
                if time.monotonic() < first.deadline:
                    break
                self.mark.give_up(first.target)
            ready += self._held.popleft().answered
        if ready:
            self.answer_all(ready)

    def flush(self, stop_at: float) -> None:
        """Release until nothing is held, or until `stop_at` (time.monotonic())."""
        while self._held and time.monotonic() < stop_at:
            self.release()
            if self._held:
                time.sleep(0.005)
