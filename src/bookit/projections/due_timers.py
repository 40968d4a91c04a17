"""Read model: work that falls due at an instant (DESIGN rules 1 and 2).

Each row is one thing the clock must do: remind a booking, auto-cancel it, expire an offer, or
close a queue when its slot starts. A tick reads the rows with `due_at <= now` through the index
on `due_at`, so its cost follows what is due, not how many bookings exist, and a tick after an
outage finds everything it missed. A row goes away when the event that settles it arrives, or
when the command it nominated has been handled (its receipt), whatever that command decided.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from hashlib import sha1
from typing import Any
from uuid import UUID

from bookit.aggregates.base import NAMESPACE, derived_id
from bookit.aggregates.booking import Booking
from bookit.aggregates.receipt import CommandReceipt
from bookit.aggregates.waitlist import WaitlistSlot
from bookit.localtime import iso
from bookit.projections.batch import Batch

REMIND = "remind"
AUTO_CANCEL = "auto_cancel"
EXPIRE_OFFER = "expire_offer"
CLOSE_QUEUE = "close_queue"
OPEN_OFFER = "open_offer"  # an offer made in quiet hours: its window starts when they end
OPEN_CHECK_IN = "open_check_in"
NO_SHOW = "no_show"


def timer_command_id(timer_key: str, due_at: str) -> UUID:
    """The command a timer nominates has an id derived from the timer, so a tick that runs
    twice (two workers, a crash and a retry) issues the same command and it has one effect."""
    return derived_id("timer", timer_key, due_at)


_TIMER = NAMESPACE.bytes + b"timer/"


def _command_text(timer_key: str, due_at: str) -> str:
    """`str(timer_command_id(timer_key, due_at))`, as uuid5 makes it (the SHA-1 of namespace and
    name, version and variant bits set) but straight to text: a rebuild makes one per timer,
    and the UUID object in between cost more than the hash."""
    digest = bytearray(sha1(_TIMER + f"{timer_key}/{due_at}".encode()).digest()[:16])
    digest[6] = (digest[6] & 0x0F) | 0x50
    digest[8] = (digest[8] & 0x3F) | 0x80
    h = digest.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def _add(batch: Batch, kind: str, subject_id: str, due: datetime, slot_id: str | None = None) -> None:
    key = f"{kind}:{subject_id}"
    due_at = _not_before(due)
    batch.due_timers.add(
        {
            "timer_key": key,
            "kind": kind,
            "due_at": due_at,
            "subject_id": subject_id,
            "slot_id": slot_id,
            "command_id": _command_text(key, due_at),
        }
    )


def _not_before(due: datetime) -> str:
    """The due instant rounded *up* to the second the table stores: a timer must never nominate
    its command before the aggregate agrees it is due, or the refusal would settle the timer."""
    if due.microsecond:
        due = due.replace(microsecond=0) + timedelta(seconds=1)
    rounded = iso(due)
    assert rounded is not None
    return rounded


def _drop(batch: Batch, kind: str, subject_id: str) -> None:
    batch.due_timers.drop(f"{kind}:{subject_id}")


def booked(batch: Batch, e: Booking.Booked) -> None:
    booking_id = str(e.originator_id)
    if e.reminder_due is not None:
        _add(batch, REMIND, booking_id, e.reminder_due)
    if e.cancel_due is not None:
        _add(batch, AUTO_CANCEL, booking_id, e.cancel_due)
    if e.check_in_until is not None:
        # Rule 14: remind the owner when check-in opens, release the booking when it closes.
        _add(batch, OPEN_CHECK_IN, booking_id, e.starts_at)
        _add(batch, NO_SHOW, booking_id, e.check_in_until)


def reminded(batch: Batch, e: Booking.Reminded) -> None:
    _drop(batch, REMIND, str(e.originator_id))


def confirmation_settled(batch: Batch, e: Any) -> None:
    _drop(batch, AUTO_CANCEL, str(e.originator_id))


def booking_ended(batch: Batch, e: Any) -> None:
    _drop(batch, REMIND, str(e.originator_id))
    _drop(batch, AUTO_CANCEL, str(e.originator_id))
    check_in_settled(batch, e)


def check_in_opened(batch: Batch, e: Booking.CheckInOpened) -> None:
    _drop(batch, OPEN_CHECK_IN, str(e.originator_id))


def check_in_settled(batch: Batch, e: Any) -> None:
    _drop(batch, OPEN_CHECK_IN, str(e.originator_id))
    _drop(batch, NO_SHOW, str(e.originator_id))


def slot_opened(batch: Batch, e: WaitlistSlot.Opened) -> None:
    # The queue must be closed, and the people still in it told, once the slot starts.
    closes_at = e.closes_at or e.starts_at
    _add(batch, CLOSE_QUEUE, str(e.originator_id), closes_at, slot_id=str(e.originator_id))


def offered(batch: Batch, e: WaitlistSlot.Notified) -> None:
    _add(batch, EXPIRE_OFFER, e.entry_id, e.deadline, slot_id=str(e.originator_id))
    if e.opens_at is not None:
        _add(batch, OPEN_OFFER, e.entry_id, e.opens_at, slot_id=str(e.originator_id))


def window_opened(batch: Batch, e: WaitlistSlot.WindowOpened) -> None:
    _drop(batch, OPEN_OFFER, e.entry_id)


def offer_settled(batch: Batch, e: Any) -> None:
    _drop(batch, EXPIRE_OFFER, e.entry_id)
    _drop(batch, OPEN_OFFER, e.entry_id)


def offers_taken(batch: Batch, e: WaitlistSlot.OfferTaken) -> None:
    for entry_id in e.entry_ids:
        _drop(batch, EXPIRE_OFFER, entry_id)
        _drop(batch, OPEN_OFFER, entry_id)


def queue_closed(batch: Batch, e: WaitlistSlot.Closed) -> None:
    _drop(batch, CLOSE_QUEUE, str(e.originator_id))
    for entry_id in e.entry_ids:
        _drop(batch, EXPIRE_OFFER, entry_id)
        _drop(batch, OPEN_OFFER, entry_id)


def command_handled(batch: Batch, e: CommandReceipt.Handled) -> None:
    batch.due_timers.drop_of_command(e.command_id)


HANDLERS: dict[type, Any] = {
    Booking.Booked: booked,
    Booking.Reminded: reminded,
    Booking.Confirmed: confirmation_settled,
    Booking.AutoCancelWaived: confirmation_settled,
    Booking.AutoCancelSkipped: confirmation_settled,
    Booking.Cancelled: booking_ended,
    Booking.AutoCancelled: booking_ended,
    Booking.CheckInOpened: check_in_opened,
    Booking.CheckedIn: check_in_settled,
    Booking.NoShow: booking_ended,
    WaitlistSlot.Opened: slot_opened,
    WaitlistSlot.Notified: offered,
    WaitlistSlot.Claimed: offer_settled,
    WaitlistSlot.Declined: offer_settled,
    WaitlistSlot.Expired: offer_settled,
    WaitlistSlot.Left: offer_settled,
    WaitlistSlot.WindowOpened: window_opened,
    WaitlistSlot.OfferTaken: offers_taken,
    WaitlistSlot.Closed: queue_closed,
    CommandReceipt.Handled: command_handled,
}
