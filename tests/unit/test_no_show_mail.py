"""The emails of check-in, no-shows and suspensions (DESIGN rule 14), from the aggregates alone."""

from __future__ import annotations

from datetime import timedelta

from test_mail_owed import ANN, LINKS, START, no_show, owed_by_last_event, suspended, with_check_in


def test_rule_14_check_in_opening_sends_a_check_in_link_that_lasts_until_check_in_closes() -> None:
    booking = with_check_in()
    [email] = owed_by_last_event(booking)
    assert (email.kind, email.to, email.subject_id) == ("check-in", ANN, str(booking.id))
    assert email.context["check_in_until"] == "15:15 on Thursday 3 December"
    link = LINKS.read(email.context["check_in_url"].rsplit("/", 1)[1], START)
    assert (link.action, link.subject_id) == ("check-in", str(booking.id))
    assert link.expires_at == START + timedelta(minutes=15)


def test_rule_14_a_no_show_is_told_its_booking_was_released() -> None:
    booking = no_show()
    [email] = owed_by_last_event(booking)
    assert (email.kind, email.to, email.subject_id) == ("no-show", ANN, str(booking.id))


def test_rule_14_the_suspension_notice_says_when_it_lifts_in_the_venue_zone() -> None:
    record = suspended()
    [email] = owed_by_last_event(record)
    assert (email.kind, email.to) == ("suspended", ANN)
    # The first of three strikes (NOW, 09:00 UTC) ages out 30 days later: 10:00 in Paris.
    assert email.context["until"] == "10:00 on Thursday 31 December"
    assert email.context["strikes"] == 3
