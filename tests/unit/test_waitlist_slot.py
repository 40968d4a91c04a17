"""The waitlist: queue order, offers that expire to the second, who may act on an entry, and
the daily limit. Queue rules on WaitlistSlot directly; the limit and priority through the
application service on the in-memory store, since they span aggregates."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

import pytest
from eventsourcing.domain import Snapshot

from bookit import commands as c
from bookit.aggregates.base import SYSTEM, Cause
from bookit.aggregates.waitlist import CLAIMED, CLOSED, EXPIRED, OFFERED, WaitlistSlot
from bookit.application import BookIT
from bookit.errors import Refused

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
START = datetime(2026, 12, 5, 10, 0, tzinfo=UTC)
WINDOW = timedelta(minutes=15)


def cause(actor: str = SYSTEM, at: datetime = NOW) -> Cause:
    return Cause(actor=actor, command_id=str(uuid4()), at=at)


def slot() -> WaitlistSlot:
    return WaitlistSlot.open(
        "hall", "2026-12-05", "10:00", "12:00", START, START + timedelta(hours=2), cause()
    )


def join(queue: WaitlistSlot, user: str, priority: int = 0) -> str:
    entry_id = uuid4()
    queue.join(entry_id, user, priority, cause(user))
    return str(entry_id)


def refused(call: Any, *args: Any) -> str:
    with pytest.raises(Refused) as info:
        call(*args)
    return info.value.code


def offered_to_a(at: datetime = NOW) -> tuple[WaitlistSlot, str, datetime]:
    queue = slot()
    entry = join(queue, "a@example.com")
    join(queue, "b@example.com")
    offer = queue.offer_next(WINDOW, cause(at=at))
    assert offer is not None and offer.entry_id == entry and offer.deadline is not None
    return queue, entry, offer.deadline


# Order (rule 8)


def test_order_is_priority_then_join_order() -> None:
    queue = slot()
    first = join(queue, "a@example.com")
    second = join(queue, "b@example.com")
    vip = join(queue, "vip@example.com", priority=-1)
    assert [e.entry_id for e in queue.waiting()] == [vip, first, second]
    assert queue.position(first) == 2


def test_join_order_is_a_sequence_not_a_timestamp() -> None:
    queue = slot()
    # Same instant for everyone: the aggregate's sequence still gives a strict order.
    entries = [join(queue, f"u{i}@example.com") for i in range(5)]
    assert [e.entry_id for e in queue.waiting()] == entries
    assert [queue.entry(e).seq for e in entries] == [1, 2, 3, 4, 5]


def test_leaving_does_not_reorder_the_others() -> None:
    queue = slot()
    a, b, c_ = (join(queue, f"{n}@example.com") for n in "abc")
    queue.leave(b, cause("b@example.com"))
    assert [e.entry_id for e in queue.waiting()] == [a, c_]
    assert (queue.entry(a).seq, queue.entry(c_).seq) == (1, 3)
    assert queue.position(c_) == 2


# Joining


def test_joining_twice_is_refused() -> None:
    queue = slot()
    join(queue, "a@example.com")
    assert refused(queue.join, uuid4(), "a@example.com", 0, cause("a@example.com")) == "already_waiting"


def test_rejoining_after_leaving_is_allowed_at_the_back() -> None:
    queue = slot()
    first = join(queue, "a@example.com")
    join(queue, "b@example.com")
    queue.leave(first, cause("a@example.com"))
    again = join(queue, "a@example.com")
    assert queue.position(again) == 2


def test_joining_a_closed_queue_is_refused() -> None:
    queue = slot()
    queue.close(cause(at=START))
    assert refused(queue.join, uuid4(), "a@example.com", 0, cause("a@example.com")) == "queue_closed"


def test_joining_once_the_slot_has_started_is_refused() -> None:
    queue = slot()
    late = cause("a@example.com", START)
    assert refused(queue.join, uuid4(), "a@example.com", 0, late) == "queue_closed"


# Offers (rules 6 and 8)


def test_one_open_offer_at_a_time() -> None:
    queue, entry, deadline = offered_to_a()
    assert deadline == NOW + WINDOW
    assert queue.offer_next(WINDOW, cause()) is None
    assert [e.entry_id for e in queue.entries.values() if e.status == OFFERED] == [entry]


def test_offer_never_outlives_the_slot() -> None:
    _, _, deadline = offered_to_a(at=START - timedelta(minutes=5))
    assert deadline == START


def test_no_offer_once_the_slot_has_started() -> None:
    queue = slot()
    join(queue, "a@example.com")
    assert queue.offer_next(WINDOW, cause(at=START)) is None


def test_claim_one_second_before_the_deadline_is_accepted() -> None:
    queue, entry, deadline = offered_to_a()
    queue.claim(entry, uuid4(), cause("a@example.com", deadline - timedelta(seconds=1)))
    assert queue.entry(entry).status == CLAIMED


def test_claim_at_the_deadline_is_refused_without_any_tick() -> None:
    queue, entry, deadline = offered_to_a()
    assert refused(queue.claim, entry, uuid4(), cause("a@example.com", deadline)) == "offer_expired"
    assert queue.entry(entry).status == OFFERED


def test_claim_without_an_open_offer_is_refused() -> None:
    queue = slot()
    entry = join(queue, "a@example.com")
    assert refused(queue.claim, entry, uuid4(), cause("a@example.com")) == "no_offer"


@pytest.mark.parametrize("action", ["claim", "leave", "decline"])
def test_only_the_entrys_owner_may_act_on_it(action: str) -> None:
    queue, entry, _ = offered_to_a()
    intruder = cause("b@example.com")
    if action == "claim":
        code = refused(queue.claim, entry, uuid4(), intruder)
    else:
        code = refused(getattr(queue, action), entry, intruder)
    assert code == "not_owner"
    assert queue.entry(entry).status == OFFERED


def test_decline_without_an_open_offer_is_refused() -> None:
    queue = slot()
    entry = join(queue, "a@example.com")
    assert refused(queue.decline, entry, cause("a@example.com")) == "no_offer"


def test_leaving_with_an_open_offer_reports_it_given_up() -> None:
    queue, entry, _ = offered_to_a()
    assert queue.leave(entry, cause("a@example.com")) is True
    assert refused(queue.leave, entry, cause("a@example.com")) == "not_waiting"


def test_expiry_before_the_deadline_is_refused_and_then_passes_on() -> None:
    queue, entry, deadline = offered_to_a()
    assert refused(queue.expire, entry, cause(at=deadline - timedelta(seconds=1))) == "not_due"
    assert queue.expire(entry, cause(at=deadline))
    nxt = queue.offer_next(WINDOW, cause(at=deadline))
    assert nxt is not None and nxt.user == "b@example.com"
    # The expired entry is out for good: never offered the same freeing twice.
    assert queue.position(entry) is None


def test_closing_tells_who_was_still_waiting() -> None:
    queue, offered, _ = offered_to_a()
    remaining = queue.close(cause(at=START))
    assert [e.user for e in remaining] == ["a@example.com", "b@example.com"]
    assert queue.entry(offered).status == CLOSED
    assert queue.close(cause(at=START)) == []


def test_closing_before_the_start_is_refused() -> None:
    assert refused(slot().close, cause(at=START - timedelta(seconds=1))) == "not_due"


# Entries out of the queue are forgotten, so a long-lived queue's state (and snapshot) stays small


def test_an_entry_out_of_the_queue_is_kept_until_the_next_event_then_forgotten() -> None:
    queue, a, _ = offered_to_a()
    c_ = join(queue, "c@example.com")
    queue.claim(a, uuid4(), cause("a@example.com"))
    assert queue.entry(a).status == CLAIMED  # what the claim's email reads
    d = join(queue, "d@example.com")
    assert a not in queue.entries
    assert [queue.position(e) for e in (c_, d)] == [2, 3]  # b is still first
    assert not queue.is_active(a)
    assert refused(queue.claim, a, uuid4(), cause("a@example.com")) == "no_offer"
    assert refused(queue.leave, a, cause("a@example.com")) == "not_waiting"
    assert queue.expire(a, cause(at=START)) is False


def test_the_slot_at_a_finishing_event_still_has_the_entry_it_finished() -> None:
    app = BookIT(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
    queue, a, deadline = offered_to_a()
    assert queue.expire(a, cause(at=deadline))
    expired_at = queue.version
    b = queue.offer_next(WINDOW, cause(at=deadline))
    assert b is not None
    remaining = queue.close(cause(at=START))
    app.save(queue)

    at_expiry: Any = app.repository.get(queue.id, version=expired_at)
    assert at_expiry.entry(a).status == EXPIRED
    closed: Any = app.repository.get(queue.id)
    assert a not in closed.entries
    assert [closed.entry(e.entry_id).status for e in remaining] == [CLOSED]


def test_a_busy_queue_snapshot_does_not_grow_with_its_history() -> None:
    app = BookIT(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})

    def snapshot_size(events: int) -> int:
        queue = slot()
        waiting: list[tuple[str, str]] = []
        n = 0
        while queue.version < events:
            if len(waiting) < 10 or queue.version % 2:
                user = f"user{n}@example.com"
                waiting.append((join(queue, user), user))
                n += 1
            else:
                entry_id, user = waiting.pop(0)
                queue.leave(entry_id, cause(user))
        assert len(queue.entries) <= 11  # ten waiting, and the one the last event took out
        return len(app.mapper.to_stored_event(Snapshot.take(queue)).state)

    assert snapshot_size(2000) <= snapshot_size(100) * 1.2


def test_only_the_owner_may_act_on_an_entry_the_slot_has_forgotten(app: BookIT) -> None:
    entry = send(app, c.JoinWaitlist, "w@example.com", **slot_fields(8))["entry_id"]
    send(app, c.LeaveWaitlist, "w@example.com", entry_id=entry)
    send(app, c.JoinWaitlist, "x@example.com", **slot_fields(8))  # the slot forgets the entry
    assert entry not in app.waitlist_slot(WaitlistSlot.id_for("hall", "2026-12-05", "08:00", "09:00")).entries
    for cls in (c.LeaveWaitlist, c.DeclineOffer, c.ClaimOffer):
        with pytest.raises(Refused) as info:
            send(app, cls, "x@example.com", entry_id=entry)
        assert info.value.code == "not_owner"
    with pytest.raises(Refused) as info:
        send(app, c.LeaveWaitlist, "w@example.com", entry_id=entry)
    assert info.value.code == "not_waiting"


# Through the application: daily limit and priority


@pytest.fixture
def app() -> BookIT:
    app = BookIT(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
    app.handle(c.build(c.RegisterVenue, actor=SYSTEM, name="Hall", tz="Europe/London"), NOW)
    for hour in (8, 10, 12, 14):
        send(app, c.BookVenue, "owner@example.com", **slot_fields(hour))
    return app


def slot_fields(hour: int) -> dict[str, str]:
    return {"venue_id": "hall", "date": "2026-12-05", "start": f"{hour:02d}:00", "end": f"{hour + 1:02d}:00"}


def send(app: BookIT, cls: type[c.Command], actor: str, **fields: Any) -> dict[str, Any]:
    return app.handle(c.build(cls, actor=actor, **fields), NOW)


def test_fourth_active_waitlist_entry_of_a_day_is_refused(app: BookIT) -> None:
    for hour in (8, 10, 12):
        send(app, c.JoinWaitlist, "w@example.com", **slot_fields(hour))
    before = app.recorder.max_notification_id()
    with pytest.raises(Refused) as info:
        send(app, c.JoinWaitlist, "w@example.com", **slot_fields(14))
    assert info.value.code == "waitlist_limit"
    assert app.recorder.max_notification_id() == before


def test_leaving_an_entry_frees_a_place_under_the_daily_limit(app: BookIT) -> None:
    entries = [send(app, c.JoinWaitlist, "w@example.com", **slot_fields(h))["entry_id"] for h in (8, 10, 12)]
    send(app, c.LeaveWaitlist, "w@example.com", entry_id=entries[0])
    assert send(app, c.JoinWaitlist, "w@example.com", **slot_fields(14))["position"] == 1


def test_priority_set_by_a_non_admin_is_refused(app: BookIT) -> None:
    with pytest.raises(Refused) as info:
        send(app, c.JoinWaitlist, "w@example.com", priority=-5, **slot_fields(8))
    assert info.value.code == "not_admin"


def test_priority_set_by_an_admin_goes_first(app: BookIT) -> None:
    send(app, c.GrantAdmin, SYSTEM, email="boss@example.com")
    send(app, c.JoinWaitlist, "early@example.com", **slot_fields(8))
    vip = send(app, c.JoinWaitlist, "boss@example.com", priority=-1, user="vip@example.com", **slot_fields(8))
    assert vip["position"] == 1
    queue = app.waitlist_slot(WaitlistSlot.id_for("hall", "2026-12-05", "08:00", "09:00"))
    assert [e.user for e in queue.waiting()] == ["vip@example.com", "early@example.com"]
    assert queue.entry(vip["entry_id"]).user == "vip@example.com"
