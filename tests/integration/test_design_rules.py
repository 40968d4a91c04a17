"""DESIGN.md rules 1-11, each proved through the whole chain: commands on the local bus, the
SQLite event store, the read models, the mail policy and the Maildir outbox. Named
test_rule_NN_... so a reader finds the proof of a rule by its number."""

from __future__ import annotations

import mailbox
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.parser import BytesParser
from email.policy import default as default_policy
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import update

from bookit import commands as c
from bookit.adapters.mail import MailDeliveryError, OneByOne
from bookit.aggregates.base import SYSTEM
from bookit.aggregates.receipt import CommandReceipt
from bookit.bootstrap import Service, bootstrap
from bookit.errors import BadInput, Refused
from bookit.projections import queries
from bookit.projections.tables import positions

A, B, C, D, E = (f"{n}@example.com" for n in "abcde")
FAR_FUTURE = datetime(2100, 1, 1, tzinfo=UTC)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def _parse(file: Any) -> EmailMessage:
    message = BytesParser(EmailMessage, policy=default_policy).parse(file)
    assert isinstance(message, EmailMessage)
    return message


def mails(service: Service, kind: str | None = None, to: str | None = None) -> list[EmailMessage]:
    # The default policy unfolds long headers, as a mail client shows them.
    box = mailbox.Maildir(service.home / "outbox", factory=_parse, create=False)
    return [m for m in box if (kind is None or m["X-BookIT-Kind"] == kind) and (to is None or m["To"] == to)]


def html_of(message: EmailMessage) -> str:
    part = message.get_body(("html",))
    assert part is not None
    return str(part.get_content())


def sent_order(service: Service, kind: str) -> list[str]:
    return [row["recipient"] for row in queries.outbox(service.engine) if row["kind"] == kind]


def position(service: Service) -> int:
    return service.app.recorder.max_notification_id() or 0


def history(driver: Any, aggregate_id: str) -> list[Any]:
    return [e for e in driver.events() if str(e.originator_id) == aggregate_id]


def event_names(driver: Any, aggregate_id: str) -> list[str]:
    return [type(e).__name__ for e in history(driver, aggregate_id)]


def status(service: Service, booking_id: str) -> str:
    row = queries.booking(service.engine, booking_id)
    assert row is not None
    return str(row["status"])


def refused(call: Any, *args: Any, **fields: Any) -> Refused:
    with pytest.raises(Refused) as info:
        call(*args, **fields)
    return info.value


def timers(service: Service) -> list[tuple[str, str, str]]:
    return [(t.kind, t.subject_id, t.due_at) for t in queries.due(service.engine, FAR_FUTURE)]


# Rule 1: due work is found by instant, not by window; a late tick catches up


def test_rule_01_one_tick_after_three_days_outage_handles_everything_due(driver: Any) -> None:
    v = driver.venue()
    upcoming = driver.book(A, v, "2026-12-05", "10:00", "12:00")  # reminder due 12-04 10:00Z
    missed = driver.book(A, v, "2026-12-02", "10:00", "12:00")  # started during the outage
    freed = driver.book(A, v, "2026-12-03", "10:00", "12:00")
    driver.join(B, v, "2026-12-03", "10:00", "12:00")
    driver.join(C, v, "2026-12-03", "10:00", "12:00")
    driver.send(c.CancelBooking, actor=A, booking_id=freed)  # B offered until 09:15
    service = driver.service

    driver.clock.set(at("2026-12-04T11:00:00"))
    driver.tick()

    assert [m["X-BookIT-Booking"] for m in mails(service, "reminder")] == [upcoming]
    assert len(mails(service, "waitlist-expired", to=B)) == 1
    assert len(mails(service, "waitlist-closed", to=C)) == 1
    assert mails(service, "waitlist-offer", to=C) == []  # the slot had started: no offer
    assert "AutoCancelSkipped" in event_names(driver, missed)
    assert timers(service) == [("auto_cancel", upcoming, "2026-12-05T08:00:00Z")]


@pytest.mark.parametrize(
    ("tz", "now", "date", "start", "starts_at", "remind_at", "cancel_at"),
    [
        # After the spring change: 24 real hours before is 10:00 BST the day before = 09:00Z.
        ("Europe/London", "2027-03-20T09:00:00", "2027-03-29", "10:00",
         "2027-03-29T09:00:00Z", "2027-03-28T09:00:00Z", "2027-03-29T07:00:00Z"),
        # After the autumn change: the reminder falls in summer time, 11:00 local.
        ("Europe/London", "2026-10-20T09:00:00", "2026-10-25", "10:00",
         "2026-10-25T10:00:00Z", "2026-10-24T10:00:00Z", "2026-10-25T08:00:00Z"),
        # Just after midnight: both deadlines fall on the previous UTC date.
        ("Europe/London", "2026-12-01T09:00:00", "2026-12-03", "00:30",
         "2026-12-03T00:30:00Z", "2026-12-02T00:30:00Z", "2026-12-02T22:30:00Z"),
        ("America/New_York", "2026-12-01T09:00:00", "2026-12-03", "22:30",
         "2026-12-04T03:30:00Z", "2026-12-03T03:30:00Z", "2026-12-04T01:30:00Z"),
    ],
    ids=["spring-change", "autumn-change", "past-midnight", "new-york-late-evening"],
)  # fmt: skip
def test_rule_01_deadlines_are_utc_instants_across_midnight_and_dst(
    driver: Any, tz: str, now: str, date: str, start: str, starts_at: str, remind_at: str, cancel_at: str
) -> None:
    driver.clock.set(at(now))
    v = driver.venue(tz=tz)
    end = f"{int(start[:2]) + 1:02d}{start[2:]}"
    booking = driver.book(A, v, date, start, end)
    assert queries.booking(driver.service.engine, booking)["starts_at"] == starts_at  # type: ignore[index]
    assert sorted(timers(driver.service)) == [
        ("auto_cancel", booking, cancel_at),
        ("remind", booking, remind_at),
    ]


def test_rule_01_reminder_after_spring_change_goes_out_at_the_utc_instant(driver: Any) -> None:
    driver.clock.set(at("2027-03-20T09:00:00"))
    v = driver.venue()
    booking = driver.book(A, v, "2027-03-29", "10:00", "11:00")
    driver.clock.set(at("2027-03-28T08:59:59"))
    driver.tick()
    assert mails(driver.service, "reminder") == []
    driver.tick(seconds=1)
    assert [m["X-BookIT-Booking"] for m in mails(driver.service, "reminder")] == [booking]


def test_rule_01_past_midnight_booking_is_reminded_and_auto_cancelled_on_time(driver: Any) -> None:
    v = driver.venue()
    booking = driver.book(A, v, "2026-12-03", "00:30", "01:30")
    driver.clock.set(at("2026-12-02T00:29:59"))
    driver.tick()
    assert mails(driver.service, "reminder") == []
    driver.tick(seconds=1)
    assert len(mails(driver.service, "reminder", to=A)) == 1
    driver.clock.set(at("2026-12-02T22:30:00"))
    driver.tick()
    assert status(driver.service, booking) == "auto_cancelled"


# Rule 2: a tick costs what is due, not what exists


def test_rule_02_tick_with_many_future_bookings_issues_commands_only_for_due_rows(driver: Any) -> None:
    v = driver.venue()
    future = {
        driver.book(A, v, f"{datetime(2027, 1, 1) + timedelta(days=i):%Y-%m-%d}", "10:00", "11:00")
        for i in range(40)
    }
    due = driver.book(B, v, "2026-12-02", "10:00", "11:00")
    before = position(driver.service)

    driver.clock.set(at("2026-12-01T10:00:00"))
    outcome = driver.tick()

    new = driver.events()[before:]
    receipts = [e.command_type for e in new if isinstance(e, CommandReceipt.Handled)]
    assert sorted(receipts) == ["RecordReminderDelivery", "SendReminder"]
    assert outcome["handled"] == 1
    assert {str(e.originator_id) for e in new} & future == set()
    assert {str(e.originator_id) for e in new if type(e).__name__ == "Reminded"} == {due}


# Rule 3: local times that do not exist or happen twice are clear errors


@pytest.mark.parametrize(
    ("now", "date", "start", "code"),
    [
        ("2027-03-01T09:00:00", "2027-03-28", "01:30", "nonexistent_local_time"),
        ("2026-10-01T09:00:00", "2026-10-25", "01:30", "ambiguous_local_time"),
    ],
    ids=["spring-gap", "autumn-overlap"],
)
def test_rule_03_dst_gap_and_overlap_are_refused_and_write_nothing(
    driver: Any, now: str, date: str, start: str, code: str
) -> None:
    driver.clock.set(at(now))
    v = driver.venue()
    before = position(driver.service)
    with pytest.raises(BadInput) as info:
        driver.book(A, v, date, start, "03:00")
    assert (info.value.code, info.value.exit_code) == (code, 2)
    assert position(driver.service) == before
    assert queries.booking_list(driver.service.engine) == []


def test_rule_03_wall_time_is_the_venues_zone(driver: Any) -> None:
    tokyo = driver.venue(name="Dojo", tz="Asia/Tokyo")
    booking = driver.book(A, tokyo, "2026-12-05", "10:00", "11:00")
    row = queries.booking(driver.service.engine, booking)
    assert row is not None and (row["starts_at"], row["ends_at"]) == (
        "2026-12-05T01:00:00Z",
        "2026-12-05T02:00:00Z",
    )


# Rule 4: late bookings


def test_rule_04_booking_under_24h_ahead_is_reminded_at_once(driver: Any) -> None:
    v = driver.venue()
    booking = driver.book(A, v, "2026-12-01", "20:00", "21:00")
    reminders = mails(driver.service, "reminder", to=A)
    assert [m["X-BookIT-Booking"] for m in reminders] == [booking]
    assert queries.booking(driver.service.engine, booking)["reminded"]  # type: ignore[index]


def test_rule_04_booking_under_2h_ahead_needs_no_confirmation(driver: Any) -> None:
    v = driver.venue()
    booking = driver.book(A, v, "2026-12-01", "10:30", "11:30")
    assert queries.booking(driver.service.engine, booking)["cancel_due"] is None  # type: ignore[index]
    assert mails(driver.service, "reminder") == []
    driver.tick(minutes=89)
    assert status(driver.service, booking) == "booked"
    assert mails(driver.service, "auto-cancelled") == []


def test_rule_04_claimed_booking_is_confirmed_and_never_auto_cancelled(driver: Any) -> None:
    v = driver.venue()
    first = driver.book(A, v, "2026-12-05", "10:00", "12:00")
    entry = driver.join(B, v, "2026-12-05", "10:00", "12:00")
    driver.send(c.CancelBooking, actor=A, booking_id=first)
    claimed = str(driver.send(c.ClaimOffer, actor=B, entry_id=entry)["booking_id"])
    assert status(driver.service, claimed) == "confirmed"
    assert [kind for kind, subject, _ in timers(driver.service) if subject == claimed] == ["remind"]
    driver.clock.set(at("2026-12-05T09:00:00"))
    driver.tick()
    assert status(driver.service, claimed) == "confirmed"


# Rule 5: auto-cancel only what was really reminded, with time to answer


class BrokenOutbox(OneByOne):
    def deliver(self, message: Any) -> None:
        raise MailDeliveryError("mail server unreachable")


@pytest.fixture
def mail_outage(tmp_path: Path, clock: Any) -> Iterator[Service]:
    service = bootstrap(tmp_path / "outage", clock=clock, outbox=BrokenOutbox())
    yield service
    service.close()


def test_rule_05_undelivered_reminder_means_no_auto_cancel(mail_outage: Service, driver: Any) -> None:
    driver = type(driver)(mail_outage, driver.clock)
    v = driver.venue()
    booking = driver.book(A, v, "2026-12-03", "10:00", "12:00")
    driver.clock.set(at("2026-12-02T10:00:00"))
    driver.tick()
    assert "Reminded" in event_names(driver, booking)
    driver.clock.set(at("2026-12-03T08:00:00"))
    driver.tick()
    assert status(mail_outage, booking) == "booked"
    skipped = [e for e in history(driver, booking) if type(e).__name__ == "AutoCancelSkipped"]
    assert [e.reason for e in skipped] == ["reminder was never delivered"]
    assert timers(mail_outage) == []


def test_rule_05_reminder_delivered_late_after_tick_outage_means_no_auto_cancel(driver: Any) -> None:
    v = driver.venue()
    booking = driver.book(A, v, "2026-12-03", "10:00", "12:00")
    driver.clock.set(at("2026-12-03T07:30:00"))  # no tick since the reminder fell due
    driver.tick()
    assert len(mails(driver.service, "reminder", to=A)) == 1
    driver.tick(minutes=30)
    assert status(driver.service, booking) == "booked"
    skipped = [e for e in history(driver, booking) if type(e).__name__ == "AutoCancelSkipped"]
    assert len(skipped) == 1 and "later than" in skipped[0].reason
    assert mails(driver.service, "auto-cancelled") == []


def test_rule_05_late_booking_reminded_too_close_to_deadline_is_not_auto_cancelled(driver: Any) -> None:
    v = driver.venue()
    booking = driver.book(A, v, "2026-12-01", "11:30", "12:30")  # reminded at once, 30 min to go
    driver.clock.set(at("2026-12-01T09:30:00"))
    driver.tick()
    assert status(driver.service, booking) == "booked"
    assert "AutoCancelSkipped" in event_names(driver, booking)


def test_rule_05_reminder_delivered_in_time_then_unconfirmed_is_auto_cancelled(driver: Any) -> None:
    v = driver.venue()
    booking = driver.book(A, v, "2026-12-03", "10:00", "12:00")
    driver.clock.set(at("2026-12-02T10:00:00"))
    driver.tick()
    driver.clock.set(at("2026-12-03T07:59:59"))
    driver.tick()
    assert status(driver.service, booking) == "booked"
    driver.tick(seconds=1)
    assert status(driver.service, booking) == "auto_cancelled"
    [notice] = mails(driver.service, "auto-cancelled", to=A)
    assert notice["X-BookIT-Booking"] == booking


def test_rule_05_confirmed_booking_is_not_auto_cancelled(driver: Any) -> None:
    v = driver.venue()
    booking = driver.book(A, v, "2026-12-03", "10:00", "12:00")
    driver.clock.set(at("2026-12-02T10:00:00"))
    driver.tick()
    driver.send(c.ConfirmBooking, actor=A, booking_id=booking)
    driver.clock.set(at("2026-12-03T08:00:00"))
    driver.tick()
    assert status(driver.service, booking) == "confirmed"


# Rule 6: offers expire to the second and never outlive the slot


def cancelled_with_queue(driver: Any, *people: str) -> tuple[str, list[str]]:
    v = driver.venue()
    first = driver.book(A, v, "2026-12-05", "10:00", "12:00")
    entries = [driver.join(p, v, "2026-12-05", "10:00", "12:00") for p in people]
    driver.send(c.CancelBooking, actor=A, booking_id=first)
    return v, entries


def test_rule_06_claim_at_the_deadline_is_refused_before_any_tick(driver: Any) -> None:
    _, (b_entry, _) = cancelled_with_queue(driver, B, C)
    driver.clock.advance(minutes=15)
    assert refused(driver.send, c.ClaimOffer, actor=B, entry_id=b_entry).code == "offer_expired"
    assert mails(driver.service, "waitlist-offer", to=C) == []
    driver.tick()
    assert len(mails(driver.service, "waitlist-expired", to=B)) == 1
    assert len(mails(driver.service, "waitlist-offer", to=C)) == 1


def test_rule_06_claim_one_second_before_the_deadline_books_the_slot(driver: Any) -> None:
    _, (b_entry,) = cancelled_with_queue(driver, B)
    driver.clock.advance(minutes=14, seconds=59)
    booking = str(driver.send(c.ClaimOffer, actor=B, entry_id=b_entry)["booking_id"])
    assert status(driver.service, booking) == "confirmed"


def test_rule_06_decline_passes_the_offer_on_at_once(driver: Any) -> None:
    _, (b_entry, c_entry) = cancelled_with_queue(driver, B, C)
    driver.send(c.DeclineOffer, actor=B, entry_id=b_entry)
    [offer] = mails(driver.service, "waitlist-offer", to=C)
    assert offer["X-BookIT-Entry"] == c_entry


def test_rule_06_no_offer_once_the_slot_has_started_and_queue_is_told(driver: Any) -> None:
    v = driver.venue()
    first = driver.book(A, v, "2026-12-01", "11:00", "12:00")
    driver.join(B, v, "2026-12-01", "11:00", "12:00")
    c_entry = driver.join(C, v, "2026-12-01", "11:00", "12:00")
    driver.clock.set(at("2026-12-01T10:50:00"))
    driver.send(c.CancelBooking, actor=A, booking_id=first)  # B's offer ends at the start, 11:00
    driver.clock.set(at("2026-12-01T11:05:00"))
    driver.tick()
    # B's offer ran out exactly at the start: B hears once, that it expired or the queue closed.
    told_b = [
        m["X-BookIT-Kind"] for m in mails(driver.service, to=B) if m["X-BookIT-Kind"] != "waitlist-offer"
    ]
    assert told_b in (["waitlist-expired"], ["waitlist-closed"])
    assert mails(driver.service, "waitlist-offer", to=C) == []
    [closed] = mails(driver.service, "waitlist-closed", to=C)
    assert closed["X-BookIT-Entry"] == c_entry


def test_rule_06_offer_made_at_a_fractional_second_still_expires_and_passes_on(driver: Any) -> None:
    # The service's clock has microseconds; a tick can land inside the deadline's own second.
    v = driver.venue()
    first = driver.book(A, v, "2026-12-05", "10:00", "12:00")
    driver.join(B, v, "2026-12-05", "10:00", "12:00")
    driver.join(C, v, "2026-12-05", "10:00", "12:00")
    driver.clock.set(at("2026-12-01T09:00:00.700"))
    driver.send(c.CancelBooking, actor=A, booking_id=first)  # B offered until 09:15:00.7
    driver.clock.set(at("2026-12-01T09:15:00.200"))
    driver.tick()
    driver.clock.set(at("2026-12-01T09:16:00"))
    driver.tick()
    assert len(mails(driver.service, "waitlist-expired", to=B)) == 1
    assert len(mails(driver.service, "waitlist-offer", to=C)) == 1


def test_rule_06_offer_made_close_to_start_ends_at_the_start(driver: Any) -> None:
    v = driver.venue()
    first = driver.book(A, v, "2026-12-01", "11:00", "12:00")
    entry = driver.join(B, v, "2026-12-01", "11:00", "12:00")
    driver.clock.set(at("2026-12-01T10:50:00"))
    driver.send(c.CancelBooking, actor=A, booking_id=first)
    driver.clock.set(at("2026-12-01T11:00:00"))
    assert refused(driver.send, c.ClaimOffer, actor=B, entry_id=entry).code == "offer_expired"


# Rule 7: a freed slot is held for the queue


def test_rule_07_held_slot_cannot_be_booked_directly_but_can_be_joined(driver: Any) -> None:
    v, _ = cancelled_with_queue(driver, B)
    assert refused(driver.book, D, v, "2026-12-05", "10:00", "12:00").code == "slot_held"
    assert refused(driver.book, D, v, "2026-12-05", "11:00", "11:30").code == "slot_held"
    assert (
        driver.send(c.JoinWaitlist, actor=D, venue_id=v, date="2026-12-05", start="10:00", end="12:00")[
            "position"
        ]
        == 1
    )


def test_rule_07_slot_is_free_once_the_queue_is_empty(driver: Any) -> None:
    v, (b_entry,) = cancelled_with_queue(driver, B)
    driver.send(c.DeclineOffer, actor=B, entry_id=b_entry)
    booking = driver.book(D, v, "2026-12-05", "10:00", "12:00")
    assert status(driver.service, booking) == "booked"


# Rule 8: fairness


def test_rule_08_offers_go_by_priority_then_join_order_and_leaving_does_not_reorder(driver: Any) -> None:
    driver.send(c.GrantAdmin, actor=SYSTEM, email="boss@example.com")
    v = driver.venue()
    first = driver.book(A, v, "2026-12-05", "10:00", "12:00")
    slot = {"venue_id": v, "date": "2026-12-05", "start": "10:00", "end": "12:00"}
    entries = {p: driver.join(p, v, "2026-12-05", "10:00", "12:00") for p in (B, C, D)}
    vip = driver.send(c.JoinWaitlist, actor="boss@example.com", user=E, priority=-1, **slot)
    entries[E] = str(vip["entry_id"])
    driver.send(c.LeaveWaitlist, actor=C, entry_id=entries[C])

    driver.send(c.CancelBooking, actor=A, booking_id=first)
    assert sent_order(driver.service, "waitlist-offer") == [E]  # one open offer at a time
    for person in (E, B):
        driver.send(c.DeclineOffer, actor=person, entry_id=entries[person])
    assert sent_order(driver.service, "waitlist-offer") == [E, B, D]


def test_rule_08_no_offer_while_the_slot_is_still_partly_taken(driver: Any) -> None:
    v = driver.venue()
    early = driver.book(A, v, "2026-12-05", "10:00", "11:00")
    late = driver.book(E, v, "2026-12-05", "11:00", "12:00")
    entry = driver.join(B, v, "2026-12-05", "10:00", "12:00")
    driver.send(c.CancelBooking, actor=A, booking_id=early)
    assert mails(driver.service, "waitlist-offer") == []
    driver.send(c.CancelBooking, actor=E, booking_id=late)
    [offer] = mails(driver.service, "waitlist-offer", to=B)
    assert offer["X-BookIT-Entry"] == entry


# Rule 9: idempotency


def test_rule_09_same_command_id_twice_has_one_effect_and_the_same_outcome(driver: Any) -> None:
    v = driver.venue()
    command = c.build(c.BookVenue, actor=A, venue_id=v, date="2026-12-05", start="10:00", end="12:00")
    first = driver.service.bus.handle(command)
    written = position(driver.service)
    assert driver.service.bus.handle(command) == first
    assert position(driver.service) == written
    assert len(queries.booking_list(driver.service.engine)) == 1
    assert len(mails(driver.service, "booking-confirmed")) == 1


def test_rule_09_same_tick_twice_sends_one_reminder(driver: Any) -> None:
    v = driver.venue()
    driver.book(A, v, "2026-12-03", "10:00", "12:00")
    driver.clock.set(at("2026-12-02T10:00:00"))
    driver.tick()
    written = position(driver.service)
    driver.tick()
    assert position(driver.service) == written
    assert len(mails(driver.service, "reminder")) == 1


def test_rule_09_replaying_the_mailer_sends_no_email_twice(driver: Any) -> None:
    _, (b_entry, _) = cancelled_with_queue(driver, B, C)
    driver.send(c.DeclineOffer, actor=B, entry_id=b_entry)
    service = driver.service
    sent_before = len(queries.outbox(service.engine))
    files_before = len(mails(service))
    with service.engine.begin() as conn:  # as if the mailer crashed before recording anything
        conn.execute(update(positions).where(positions.c.name == "mail").values(position=0))
    service.bus.settle(driver.clock.now)
    message_ids = [m["Message-ID"] for m in mails(service)]
    assert len(message_ids) == files_before == len(set(message_ids))
    assert len(queries.outbox(service.engine)) == sent_before


# Rule 10: who may do what; templates escape, headers stay single


def test_rule_10_only_the_owner_confirms_or_cancels(driver: Any) -> None:
    v = driver.venue()
    booking = driver.book(A, v, "2026-12-05", "10:00", "12:00")
    assert refused(driver.send, c.ConfirmBooking, actor=B, booking_id=booking).code == "not_owner"
    assert refused(driver.send, c.CancelBooking, actor=B, booking_id=booking).code == "not_owner"
    assert status(driver.service, booking) == "booked"


def test_rule_10_only_the_entrys_owner_claims_or_leaves(driver: Any) -> None:
    _, (b_entry,) = cancelled_with_queue(driver, B)
    assert refused(driver.send, c.ClaimOffer, actor=C, entry_id=b_entry).code == "not_owner"
    assert refused(driver.send, c.LeaveWaitlist, actor=C, entry_id=b_entry).code == "not_owner"
    assert refused(driver.send, c.DeclineOffer, actor=C, entry_id=b_entry).code == "not_owner"
    assert driver.send(c.ClaimOffer, actor=B, entry_id=b_entry)["status"] == "confirmed"


def test_rule_10_only_an_admin_overrides_or_sets_priority(driver: Any) -> None:
    v = driver.venue()
    booking = driver.book(A, v, "2026-12-05", "10:00", "12:00")
    assert refused(driver.send, c.WaiveAutoCancel, actor=A, booking_id=booking).code == "not_admin"
    slot = {"venue_id": v, "date": "2026-12-05", "start": "10:00", "end": "12:00"}
    assert refused(driver.send, c.JoinWaitlist, actor=B, priority=-1, **slot).code == "not_admin"
    driver.send(c.GrantAdmin, actor=SYSTEM, email="boss@example.com")
    driver.send(c.WaiveAutoCancel, actor="boss@example.com", booking_id=booking)
    driver.clock.set(at("2026-12-05T08:00:00"))
    driver.tick()
    assert status(driver.service, booking) == "booked"


def test_rule_10_purpose_is_escaped_in_the_html_email(driver: Any) -> None:
    v = driver.venue()
    driver.book(A, v, "2026-12-05", "10:00", "12:00", purpose="<script>alert(1)</script>")
    [receipt] = mails(driver.service, "booking-confirmed", to=A)
    html = html_of(receipt)
    assert "&lt;script&gt;" in html
    assert "<script>" not in html


def test_rule_10_line_breaks_in_names_cannot_inject_headers(driver: Any) -> None:
    before = position(driver.service)
    with pytest.raises(BadInput):
        driver.venue(name="Hall\r\nBcc: evil@example.com", venue_id="hall")
    assert position(driver.service) == before
    # Separators the command check lets through must still not break the Subject line.
    v = driver.venue(name="Hall\u2028Bcc: evil@example.com\x85X-Evil: 1", venue_id="hall")
    driver.book(A, v, "2026-12-05", "10:00", "12:00", purpose="Party\nBcc: evil@example.com")
    [receipt] = mails(driver.service, "booking-confirmed", to=A)
    assert receipt["Bcc"] is None and receipt["X-Evil"] is None
    assert receipt.get_all("To") == [A]
    # (the stdlib reads a subject folded whole onto its second line with the fold's space in front)
    assert receipt["Subject"].strip().startswith("Booked: Hall Bcc: evil@example.com")


# Rule 11: bad input gets a clear error and changes nothing


@pytest.mark.parametrize(
    ("fields", "code"),
    [
        ({"date": "2026-13-01"}, "bad_date"),
        ({"venue_id": "nowhere"}, "unknown_venue"),
        ({"start": "12:00", "end": "10:00"}, "end_before_start"),
        ({"date": "2026-11-30"}, "in_the_past"),
        ({"actor": "not an email"}, "bad_email"),
        ({"purpose": "x" * 5000}, "invalid_command"),
    ],
    ids=["malformed-date", "unknown-venue", "end-before-start", "in-the-past", "bad-email", "long-purpose"],
)
def test_rule_11_bad_booking_input_is_refused_and_changes_nothing(
    driver: Any, fields: dict[str, str], code: str
) -> None:
    v = driver.venue()
    before = (position(driver.service), len(mails(driver.service)))
    command = {"actor": A, "venue_id": v, "date": "2026-12-05", "start": "10:00", "end": "12:00"}
    with pytest.raises(BadInput) as info:
        driver.send(c.BookVenue, **(command | fields))
    assert info.value.code == code and info.value.message
    assert (position(driver.service), len(mails(driver.service))) == before
    assert queries.booking_list(driver.service.engine) == []


def test_rule_11_unknown_booking_or_entry_is_bad_input_and_changes_nothing(driver: Any) -> None:
    driver.venue()
    before = position(driver.service)
    unknown = "00000000-0000-0000-0000-000000000000"
    for cls, field in ((c.ConfirmBooking, "booking_id"), (c.ClaimOffer, "entry_id")):
        with pytest.raises(BadInput):
            driver.send(cls, actor=A, **{field: unknown})
    assert position(driver.service) == before


def test_rule_11_a_refused_command_writes_no_event(driver: Any) -> None:
    v = driver.venue()
    driver.book(A, v, "2026-12-05", "10:00", "12:00")
    before = position(driver.service)
    assert refused(driver.book, B, v, "2026-12-05", "11:00", "13:00").code == "slot_taken"
    assert position(driver.service) == before
