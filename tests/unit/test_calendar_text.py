"""An invitation written line by line (adapters/calendar.py `invitation`) is byte for byte what
icalendar's `Calendar.to_ical()` writes for the same booking, and icalendar reads it back.

The oracle is the library itself: the same booking built as components (`_calendar`, which
the feed still uses) and serialised by icalendar.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st
from icalendar import Calendar
from icalendar.parser import Contentline

from bookit.adapters import calendar as ical

# Zones with DST both ways, odd offsets, an offset that never changes, and UTC's aliases.
ZONES = [
    "Europe/London",
    "Europe/Paris",
    "America/New_York",
    "America/Port-au-Prince",
    "America/Sao_Paulo",
    "Asia/Kathmandu",
    "Asia/Tokyo",
    "Australia/Lord_Howe",
    "Pacific/Chatham",
    "Africa/Abidjan",
    "Etc/GMT+5",
    "UTC",
    "Etc/UTC",
    "GMT",
]
# Whatever people type: commas, semicolons, backslashes, line breaks, quotes, any script.
TEXT = st.text(st.characters(blacklist_categories=("Cs",)), max_size=90)
WORDS = st.text(st.sampled_from(list("aZ ,;:\\\"'^\n\r\tâ€🎶")), max_size=90)
# What a person's name is once the domain has taken it: no control characters (icalendar
# cannot read those back from a parameter, whoever wrote them).
NAMES = st.text(st.characters(blacklist_categories=("Cs", "Cc")), max_size=60)
INSTANTS = st.datetimes(datetime(1971, 1, 1), datetime(2099, 1, 1), timezones=st.just(UTC))


@st.composite
def bookings(draw: st.DrawFn, names: st.SearchStrategy[str] = TEXT | WORDS) -> ical.BookingTime:
    starts_at = draw(INSTANTS)
    return ical.BookingTime(
        booking_id=draw(st.uuids().map(str) | TEXT.filter(bool)),
        sequence=draw(st.integers(min_value=1, max_value=10**6)),
        stamp=draw(INSTANTS),
        starts_at=starts_at,
        ends_at=starts_at + draw(st.timedeltas(min_value=timedelta(minutes=1), max_value=timedelta(days=3))),
        tz=draw(st.sampled_from(ZONES)),
        venue_name=draw(TEXT | WORDS),
        attendee=draw(st.emails() | st.just("bob.o'neil@example.org")),
        attendee_name=draw(st.just("") | names),
        purpose=draw(st.just("") | TEXT | WORDS),
        cancelled=draw(st.booleans()),
    )


ORGANIZERS = st.sampled_from([ical.SENDER, "no-reply@bookit.local", "Salle Zoë, Réservations <r@x.fr>"])


@settings(max_examples=400, deadline=None)
@given(entry=bookings(), organizer=ORGANIZERS)
def test_an_invitation_is_the_bytes_icalendar_writes_for_it(entry: ical.BookingTime, organizer: str) -> None:
    written = ical.invitation(entry, organizer)

    assert written == ical._calendar([entry], organizer, ical.method_of(entry))


@settings(max_examples=150, deadline=None)
@given(entry=bookings(names=NAMES))
def test_icalendar_reads_an_invitation_back_as_the_booking(entry: ical.BookingTime) -> None:
    calendar = Calendar.from_ical(ical.invitation(entry, ical.SENDER))
    [event] = calendar.walk("VEVENT")

    assert calendar["METHOD"] == ("CANCEL" if entry.cancelled else "REQUEST")
    assert event["UID"] == entry.uid.replace("\r\n", "\n").replace("\r", "\n")
    assert event["SEQUENCE"] == entry.sequence
    # compared as instants: Python never calls an ambiguous wall time equal to one in another zone
    assert event["DTSTART"].dt.astimezone(UTC) == entry.starts_at.replace(microsecond=0)
    assert event["DTEND"].dt.astimezone(UTC) == entry.ends_at.replace(microsecond=0)
    assert event["DTSTAMP"].dt == entry.stamp.replace(microsecond=0)
    assert event["LOCATION"] == entry.venue_name.replace("\r\n", "\n").replace("\r", "\n")
    assert event["ATTENDEE"] == f"mailto:{entry.attendee}"
    zones = [tz["TZID"] for tz in calendar.walk("VTIMEZONE")]
    assert zones == ([] if ical._is_utc(entry.tz) else [entry.tz])


def test_invitations_for_one_zone_and_day_share_its_vtimezone_and_differ_where_the_bookings_do() -> None:
    start = datetime(2026, 3, 29, 0, 30, tzinfo=UTC)  # the night London's clocks go forward
    first, second = (
        ical.BookingTime(
            booking_id=f"bk-{n}",
            sequence=1,
            stamp=start - timedelta(days=2),
            starts_at=start + timedelta(hours=n),
            ends_at=start + timedelta(hours=n + 1),
            tz="Europe/London",
            venue_name="Main Hall",
            attendee=f"p{n}@example.com",
        )
        for n in (0, 1)
    )
    one, two = ical.invitation(first, ical.SENDER), ical.invitation(second, ical.SENDER)

    for entry, written in ((first, one), (second, two)):
        assert written == ical._calendar([entry], ical.SENDER, ical.method_of(entry))
    assert one.split("BEGIN:VEVENT")[0] == two.split("BEGIN:VEVENT")[0]  # the same VTIMEZONE
    assert "DTSTART;TZID=Europe/London:20260329T003000" in one  # 00:30 UTC is 00:30 GMT
    assert "DTSTART;TZID=Europe/London:20260329T023000" in two  # 01:30 UTC is 02:30 BST


@settings(max_examples=500, deadline=None)
@given(line=st.text(st.sampled_from(list('aZ9 :;,\\^"=')), max_size=400))
def test_a_long_line_folds_where_icalendar_folds_it(line: str) -> None:
    """Escapes (a backslash, a caret) are never cut at a fold, however they fall."""
    assert ical._fold_ascii(line) == Contentline(line).to_ical().decode()


def test_a_booking_in_the_hour_that_happens_twice_is_read_back_at_its_own_instant() -> None:
    # London's clocks go back at 02:00 BST on 25 October 2026, so 01:00-02:00 happens twice; a
    # booking at 01:30 GMT is the second 01:30, which a TZID wall time would name as the first.
    second = datetime(2026, 10, 25, 1, 30, tzinfo=UTC)
    entry = ical.BookingTime(
        booking_id="bk-fold",
        sequence=1,
        stamp=second - timedelta(days=1),
        starts_at=second,
        ends_at=second + timedelta(minutes=20),
        tz="Europe/London",
        venue_name="Main Hall",
        attendee="ann@example.com",
    )
    for written in (ical.invitation(entry, ical.SENDER), ical.feed([entry], ical.SENDER)):
        [event] = Calendar.from_ical(written).walk("VEVENT")
        assert event["DTSTART"].dt.astimezone(UTC) == second
        assert event["DTEND"].dt.astimezone(UTC) == second + timedelta(minutes=20)
