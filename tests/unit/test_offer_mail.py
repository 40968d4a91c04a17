"""What the offer emails say under offer policies (rules 15, 16): the real deadline once in the
venue's zone, that others were offered too in batch/all modes, no email while quiet hours hold
an offer back, and a word to those who lost a shared offer to a faster claim."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

from bookit.aggregates.base import SYSTEM, Cause
from bookit.aggregates.offer_policy import OfferMode, OfferPolicy, QuietHours
from bookit.aggregates.venue import Venue
from bookit.aggregates.waitlist import WaitlistSlot
from bookit.links import LinkSigner
from bookit.policies.mail.mailer import compose
from bookit.policies.mail.owed import Email, Facts, emails_owed

NOW = datetime(2026, 12, 1, 21, 30, tzinfo=UTC)  # 22:30 in Paris
START = datetime(2026, 12, 3, 14, 0, tzinfo=UTC)
LINKS = LinkSigner(b"0123456789abcdef0123", "https://bookit.example")
VENUE = Venue.register("main-hall", "Main Hall", "Europe/Paris", Cause(SYSTEM, "v", NOW))
PEOPLE = ["ann@example.com", "bob@example.com", "cat@example.com", "dan@example.com"]


def cause(actor: str = SYSTEM, at: datetime = NOW) -> Cause:
    return Cause(actor=actor, command_id=str(uuid4()), at=at)


def queue() -> tuple[WaitlistSlot, list[str]]:
    slot = WaitlistSlot.open(
        "main-hall", "2026-12-03", "15:00", "17:00", START, START + timedelta(hours=2), cause()
    )
    entries = []
    for user in PEOPLE:
        entry_id = uuid4()
        slot.join(entry_id, user, 0, cause(user))
        entries.append(str(entry_id))
    return slot, entries


class Mailbox:
    """Replays the slot's events one by one, as the mailer reads them from the store, and
    collects the emails each owes, judged by the slot as it was just after that event."""

    def __init__(self) -> None:
        self.events: list[Any] = []

    def new_mail(self, slot: WaitlistSlot) -> list[Email]:
        self.events += slot.collect_events()
        state: Any = None
        emails: list[Email] = []
        for n, event in enumerate(self.events):
            state = event.mutate(state)
            if n >= self.seen:
                emails += emails_owed(Facts(event, state, VENUE, LINKS))
        self.seen = len(self.events)
        return emails

    seen = 0


def text_of(email: Email) -> str:
    message = compose(email, NOW)
    body = message.get_body(("plain",))
    assert body is not None
    return str(body.get_content())


def test_the_offer_says_its_deadline_once_in_the_venue_zone() -> None:
    slot, entries = queue()
    box = Mailbox()
    box.new_mail(slot)
    slot.offer(OfferPolicy(tz=VENUE.tz), cause())
    [email] = box.new_mail(slot)
    text = text_of(email)
    # The deadline as people say it, with the time left; the zone is named once, by the times.
    assert text.splitlines()[1].startswith("Claim it by 22:45 on Tuesday 1 December (15 minutes left)")
    assert text.count("Paris time") == 1 and "Europe/Paris" not in text
    assert "others" not in text and "other in line" not in text


def test_a_batch_offer_says_others_were_offered_too() -> None:
    slot, entries = queue()
    box = Mailbox()
    box.new_mail(slot)
    slot.offer(OfferPolicy(tz=VENUE.tz, mode=OfferMode.parse("batch:3")), cause())
    emails = box.new_mail(slot)
    assert [e.to for e in emails] == PEOPLE[:3]
    assert {e.context["others_offered"] for e in emails} == {2}
    assert "We offered it to 2 others in line at the same time: the first to" in text_of(emails[0])


def test_no_offer_email_in_quiet_hours_then_one_when_they_end() -> None:
    slot, entries = queue()
    box = Mailbox()
    box.new_mail(slot)
    policy = OfferPolicy(tz=VENUE.tz, window=None, quiet=QuietHours.parse("22:00-08:00"))
    [offer] = slot.offer(policy, cause())
    assert box.new_mail(slot) == []  # made at 22:30 Paris time: nobody is woken up
    morning = datetime(2026, 12, 2, 7, 0, tzinfo=UTC)  # 08:00 in Paris
    assert offer.opens_at == morning
    slot.open_window(offer.entry_id, cause(at=morning))
    [email] = box.new_mail(slot)
    assert (email.kind, email.to) == ("waitlist-offer", PEOPLE[0])
    # 31 hours before the start when it opens: auto gives 3 hours, counted from 08:00.
    assert email.context["minutes"] == 180
    assert email.context["deadline"] == "11:00 on Wednesday 2 December"
    link = LINKS.read(email.context["claim_url"].rsplit("/", 1)[1], morning)
    assert link.expires_at == morning + timedelta(hours=3)


def test_those_who_lost_a_shared_offer_are_told_and_keep_their_place() -> None:
    slot, entries = queue()
    box = Mailbox()
    box.new_mail(slot)
    slot.offer(OfferPolicy(tz=VENUE.tz, mode=OfferMode.parse("all")), cause())
    box.new_mail(slot)
    slot.claim(entries[2], uuid4(), cause(PEOPLE[2], NOW + timedelta(minutes=2)))
    emails = box.new_mail(slot)
    assert [e.kind for e in emails] == ["waitlist-claimed"] + ["waitlist-taken"] * 3
    taken = {e.to: e.context["position"] for e in emails[1:]}
    assert taken == {PEOPLE[0]: 1, PEOPLE[1]: 2, PEOPLE[3]: 3}
    assert "you are number 2 in line" in text_of(emails[2])
