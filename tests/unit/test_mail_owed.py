"""Which emails an event owes and what they say, from the aggregates alone: no store, no SQL.

The pure half of the mailer (`policies/mail/owed.py`) is given an event, its aggregate as it was
just after the event, the venue and a link signer; these tests build those in memory."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

import pytest

from bookit.aggregates.base import SYSTEM, Cause
from bookit.aggregates.booking import Booking
from bookit.aggregates.offer_policy import OfferMode, OfferPolicy, QuietHours
from bookit.aggregates.strikes import StrikeRecord
from bookit.aggregates.venue import Venue
from bookit.aggregates.venue_rules import VenueRules
from bookit.aggregates.waitlist import WaitlistSlot
from bookit.config import Rules
from bookit.links import LinkSigner
from bookit.policies.mail.mailer import compose
from bookit.policies.mail.owed import MAILED_TOPICS, OWED, Facts, emails_owed

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
START = datetime(2026, 12, 3, 14, 0, tzinfo=UTC)
ANN, BOB, CAT = "ann@example.com", "bob@example.com", "cat@example.com"
LINKS = LinkSigner(b"0123456789abcdef0123", "https://bookit.example")
VENUE = Venue.register("main-hall", "Main Hall", "Europe/Paris", Cause(SYSTEM, "v", NOW))


def cause(actor: str = SYSTEM, at: datetime = NOW) -> Cause:
    return Cause(actor=actor, command_id=str(uuid4()), at=at)


def book(at: datetime = NOW, entry: str | None = None, venue_rules: VenueRules | None = None) -> Booking:
    return Booking.book(
        uuid4(),
        venue_id="main-hall",
        user=ANN,
        date="2026-12-03",
        start="15:00",
        end="17:00",
        starts_at=START,
        ends_at=START + timedelta(hours=2),
        purpose="Choir",
        rules=Rules(),
        cause=cause(ANN, at),
        waitlist_entry_id=entry,
        venue_rules=venue_rules,
    )


def owed_by_last_event(aggregate: Any) -> list[Any]:
    """The emails owed by the aggregate's newest event, judged by the aggregate as it is now."""
    event = aggregate.collect_events()[-1]
    return emails_owed(Facts(event, aggregate, VENUE, LINKS))


def queue_of_three() -> tuple[WaitlistSlot, list[str]]:
    slot = WaitlistSlot.open(
        "main-hall", "2026-12-03", "15:00", "17:00", START, START + timedelta(hours=2), cause()
    )
    entries = []
    for user in (ANN, BOB, CAT):
        entry_id = uuid4()
        slot.join(entry_id, user, 0, cause(user))
        entries.append(str(entry_id))
    slot.collect_events()
    return slot, entries


def test_a_new_booking_owes_its_owner_a_receipt_in_the_venue_zone() -> None:
    booking = book()
    [email] = owed_by_last_event(booking)
    assert (email.kind, email.to, email.subject_id) == ("booking-confirmed", ANN, str(booking.id))
    assert email.context["venue_name"] == "Main Hall"
    assert email.context["date"] == "Thursday 3 December 2026"
    assert email.context["tz"] == "Europe/Paris"
    assert (
        email.context["reminder_note"]
        == "Nothing to do now: on Wednesday 2 December we will ask you to confirm it,"
        " by 13:00 on Thursday 3 December."
    )


def test_a_booking_claimed_from_the_waitlist_owes_no_receipt_of_its_own() -> None:
    # The waitlist-claimed email tells the owner instead.
    assert owed_by_last_event(book(entry=str(uuid4()))) == []


def test_a_reminder_carries_links_that_act_on_this_booking_and_name_nobody() -> None:
    booking = book()
    booking.remind(cause(at=START - timedelta(hours=24)))
    [email] = owed_by_last_event(booking)
    assert email.kind == "reminder"
    # The cancel deadline (12:00 UTC) as the venue's wall clock says it.
    assert email.context["confirm_by"] == "13:00 on Thursday 3 December"
    for action in ("confirm", "cancel"):
        link = LINKS.read(email.context[f"{action}_url"].rsplit("/", 1)[1], NOW)
        assert (link.action, link.subject_id, link.expires_at) == (action, str(booking.id), START)
        assert "ann" not in email.context[f"{action}_url"]


def test_an_auto_cancellation_says_why_and_where_to_book_again() -> None:
    booking = book()
    booking.remind(cause(at=START - timedelta(hours=24)))
    booking.note_reminder_delivered(START - timedelta(hours=24), cause())
    booking.auto_cancel(Rules(), cause(at=START - timedelta(hours=2)))
    event = booking.collect_events()[-1]
    [email] = emails_owed(Facts(event, booking, VENUE, LINKS))
    assert email.kind == "auto-cancelled"
    # In the venue's zone (Paris), as every other time in the email; the event keeps UTC.
    assert email.context["reason"] == "not confirmed by 13:00 on Thursday 3 December"
    assert event.reason == "not confirmed by 2026-12-03 12:00 UTC"
    assert email.context["book_url"] == "https://bookit.example/venues/main-hall?date=2026-12-03"


def test_an_offer_goes_to_the_first_in_line_with_its_deadline_and_minutes() -> None:
    slot, (ann, _, _) = queue_of_three()
    slot.offer_next(timedelta(minutes=15), cause(at=NOW))
    [email] = owed_by_last_event(slot)
    assert (email.kind, email.to, email.subject_id) == ("waitlist-offer", ANN, ann)
    assert email.context["minutes"] == 15
    assert email.context["deadline"] == "10:15 on Tuesday 1 December"
    claim = LINKS.read(email.context["claim_url"].rsplit("/", 1)[1], NOW)
    assert (claim.action, claim.subject_id, claim.expires_at) == ("claim", ann, NOW + timedelta(minutes=15))


def test_a_claim_is_about_the_new_booking_and_the_entry_it_came_from() -> None:
    slot, (ann, _, _) = queue_of_three()
    slot.offer_next(timedelta(minutes=15), cause(at=NOW))
    booking_id = uuid4()
    slot.claim(ann, booking_id, cause(ANN, NOW + timedelta(minutes=1)))
    [email] = owed_by_last_event(slot)
    assert (email.kind, email.to, email.subject_id) == ("waitlist-claimed", ANN, str(booking_id))
    assert email.context["entry_id"] == ann


def test_closing_a_queue_tells_everyone_still_in_it_once_each() -> None:
    slot, entries = queue_of_three()
    slot.close(cause(at=START))
    emails = owed_by_last_event(slot)
    assert [(e.kind, e.to, e.subject_id) for e in emails] == [
        ("waitlist-closed", user, entry) for user, entry in zip((ANN, BOB, CAT), entries, strict=True)
    ]
    assert len({e.message_id for e in emails}) == 3


def test_the_same_event_owes_the_same_message_ids_every_time() -> None:
    booking = book()
    event = booking.collect_events()[-1]
    first = emails_owed(Facts(event, booking, VENUE, LINKS))
    again = emails_owed(Facts(event, booking, VENUE, LINKS))
    assert [e.message_id for e in first] == [e.message_id for e in again]


def test_an_event_that_owes_nothing_is_passed_without_looking_at_it() -> None:
    slot, _ = queue_of_three()
    slot.leave(str(next(iter(slot.entries))), cause(ANN))
    assert owed_by_last_event(slot) == []
    assert "waitlist.left" not in MAILED_TOPICS and "booking.booked" in MAILED_TOPICS


def reminded() -> Booking:
    booking = book()
    booking.remind(cause(at=START - timedelta(hours=24)))
    return booking


def confirmed() -> Booking:
    booking = reminded()
    booking.confirm(cause(ANN, START - timedelta(hours=20)))
    return booking


def waived() -> Booking:
    booking = reminded()
    booking.waive_auto_cancel(cause("admin@example.com", START - timedelta(hours=20)), actor_is_admin=True)
    return booking


def cancelled() -> Booking:
    booking = book()
    booking.cancel("plans changed", cause(ANN, NOW + timedelta(hours=1)))
    return booking


def auto_cancelled() -> Booking:
    booking = reminded()
    booking.note_reminder_delivered(START - timedelta(hours=24), cause())
    booking.auto_cancel(Rules(), cause(at=START - timedelta(hours=2)))
    return booking


def offered() -> WaitlistSlot:
    slot, _ = queue_of_three()
    slot.offer_next(timedelta(minutes=15), cause(at=NOW))
    return slot


def expired() -> WaitlistSlot:
    slot = offered()
    [entry] = [e for e in slot.entries.values() if e.deadline is not None]
    slot.expire(entry.entry_id, cause(at=NOW + timedelta(minutes=15)))
    return slot


def claimed() -> WaitlistSlot:
    slot = offered()
    [entry] = [e for e in slot.entries.values() if e.deadline is not None]
    slot.claim(entry.entry_id, uuid4(), cause(ANN, NOW))
    return slot


def closed() -> WaitlistSlot:
    slot, _ = queue_of_three()
    slot.close(cause(at=START))
    return slot


def with_check_in() -> Booking:
    booking = book(venue_rules=VenueRules(check_in_minutes=15))
    booking.open_check_in(cause(at=START))
    return booking


def no_show() -> Booking:
    booking = with_check_in()
    booking.release_as_no_show(Rules(), cause(at=START + timedelta(minutes=15)))
    return booking


def suspended() -> StrikeRecord:
    record = StrikeRecord.open(ANN, "main-hall", cause())
    for day in range(3):
        record.strike(
            uuid4(), "no_show", cause(at=NOW + timedelta(days=day)), 3, 30, ("2026-12-03", "15:00", "17:00")
        )
    return record


def opened_after_quiet_hours() -> WaitlistSlot:
    slot, _ = queue_of_three()
    policy = OfferPolicy(tz="Europe/Paris", quiet=QuietHours.parse("00:00-11:00"))
    [offer] = slot.offer(policy, cause(at=NOW))
    assert offer.opens_at is not None
    slot.open_window(offer.entry_id, cause(at=offer.opens_at))
    return slot


def taken_by_another() -> WaitlistSlot:
    slot, (_, bob, _) = queue_of_three()
    slot.offer(OfferPolicy(mode=OfferMode.parse("all")), cause(at=NOW))
    slot.claim(bob, uuid4(), cause(BOB, NOW + timedelta(minutes=1)))
    return slot


# Each scenario ends with the event that owes the email.
SCENARIOS = {
    WaitlistSlot.WindowOpened: opened_after_quiet_hours,
    WaitlistSlot.OfferTaken: taken_by_another,
    Booking.CheckInOpened: with_check_in,
    Booking.NoShow: no_show,
    StrikeRecord.Suspended: suspended,
    Booking.Booked: book,
    Booking.Reminded: reminded,
    Booking.Confirmed: confirmed,
    Booking.AutoCancelWaived: waived,
    Booking.AutoCancelled: auto_cancelled,
    Booking.Cancelled: cancelled,
    WaitlistSlot.Notified: offered,
    WaitlistSlot.Expired: expired,
    WaitlistSlot.Claimed: claimed,
    WaitlistSlot.Closed: closed,
}


def test_every_email_owing_event_has_a_scenario_here() -> None:
    assert set(SCENARIOS) == set(OWED)


@pytest.mark.parametrize("event_type", list(SCENARIOS), ids=lambda t: t.TOPIC)
def test_every_owed_email_has_what_its_templates_need(event_type: type) -> None:
    aggregate = SCENARIOS[event_type]()
    event = aggregate.collect_events()[-1]
    assert type(event) is event_type
    emails = emails_owed(Facts(event, aggregate, VENUE, LINKS))
    assert emails
    for email in emails:
        message = compose(email, NOW)  # a context key the templates need and were not given raises here
        assert message["To"] == email.to and message["X-BookIT-Kind"] == email.kind
