"""Everything BookIT holds about one person, as one JSON-ready document (GDPR article 15).

Read from the read models only, so it is the same on every door and needs no event store:
their bookings (with purposes, names and their own cancel reasons), waitlist entries, strikes,
quota use, check-ins, the emails sent to them or refused (kind, when, Message-ID, subject),
and whether they are an admin. An address BookIT holds nothing about is `None`, which the doors
answer as unknown (exit 2, 404), the same whether it was never seen or already erased.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Engine, select

from bookit.errors import BadInput, Refused
from bookit.projections.tables import (
    admins,
    audit,
    bookings,
    check_ins,
    emails_refused,
    emails_sent,
    strikes,
    waitlist_entries,
)

QUOTA_TOPICS = ("quota.opened", "quota.counted", "quota.uncounted")
_OWN_TEXT = ("booking.booked", "booking.cancelled")  # events whose text the person wrote


def export_for(engine: Engine, email: str, *, actor_is_admin: bool, own: bool = False) -> dict[str, Any]:
    """The handler every door shares: the caller's own data (`own`), or an admin's look at
    anyone's; BadInput `unknown_person` when BookIT holds nothing about the address."""
    if not (own or actor_is_admin):
        raise Refused("only an admin may export someone's data", "not_admin")
    document = export_person(engine, email)
    if document is None:
        whose = "you" if own else "that address"
        raise BadInput(f"BookIT holds nothing about {whose} (never seen, or erased)", "unknown_person")
    return document


def export_person(engine: Engine, email: str) -> dict[str, Any] | None:
    with engine.connect() as conn:

        def rows(query: Any) -> list[dict[str, Any]]:
            return [dict(row._mapping) for row in conn.execute(query)]

        booked = rows(select(bookings).where(bookings.c.user == email).order_by(bookings.c.booked_at))
        entries = rows(
            select(waitlist_entries)
            .where(waitlist_entries.c.user == email)
            .order_by(waitlist_entries.c.joined_at, waitlist_entries.c.entry_id)
        )
        struck = rows(select(strikes).where(strikes.c.user == email).order_by(strikes.c.at))
        checked = rows(select(check_ins).where(check_ins.c.user == email).order_by(check_ins.c.starts_at))
        sent = rows(
            select(emails_sent).where(emails_sent.c.recipient == email).order_by(emails_sent.c.position)
        )
        refused = rows(
            select(emails_refused)
            .where(emails_refused.c.recipient == email)
            .order_by(emails_refused.c.position)
        )
        is_admin = conn.execute(select(admins.c.email).where(admins.c.email == email)).first() is not None
        ids = [b["booking_id"] for b in booked]
        own = rows(
            select(audit.c.booking_id, audit.c.topic, audit.c.at, audit.c.actor, audit.c.data)
            .where(audit.c.booking_id.in_(ids), audit.c.topic.in_(_OWN_TEXT))
            .order_by(audit.c.position)
        )
        joined = rows(
            select(audit.c.entry_id, audit.c.data)
            .where(audit.c.entry_id.in_([e["entry_id"] for e in entries]), audit.c.topic == "waitlist.joined")
            .order_by(audit.c.position)
        )
        quota_events = rows(
            select(audit.c.aggregate_id, audit.c.topic, audit.c.data)
            .where(audit.c.topic.in_(QUOTA_TOPICS))
            .order_by(audit.c.position)
        )
    quotas = _quota_use(quota_events, email)
    if not (booked or entries or struck or sent or refused or is_admin or quotas):
        return None
    names, reasons = _own_words(own, email)
    queued_as = {e["entry_id"]: json.loads(e["data"]).get("name", "") for e in joined}
    return {
        "email": email,
        "names": sorted((set(names.values()) | set(queued_as.values())) - {""}),
        "admin": is_admin,
        "bookings": [_booking(b, names, reasons) for b in booked],
        "waitlist_entries": [e | {"name": queued_as.get(e["entry_id"], "")} for e in entries],
        "strikes": struck,
        "check_ins": checked,
        "quota_use": quotas,
        "emails_sent": [_email(m, "sent_at") for m in sent],
        "emails_refused": [_email(m, "refused_at") | {"error": m["error"]} for m in refused],
    }


def _own_words(own: list[dict[str, Any]], email: str) -> tuple[dict[str, str], dict[str, str]]:
    """The name each booking was made under, and the reason the person gave when cancelling."""
    names: dict[str, str] = {}
    reasons: dict[str, str] = {}
    for event in own:
        data = json.loads(event["data"])
        if event["topic"] == "booking.booked":
            names[event["booking_id"]] = data.get("name", "")
        elif event["actor"] == email:
            reasons[event["booking_id"]] = data.get("reason", "")
    return names, reasons


def _booking(row: dict[str, Any], names: dict[str, str], reasons: dict[str, str]) -> dict[str, Any]:
    out = dict(row)
    del out["user"]
    out["name"] = names.get(row["booking_id"], "")
    if row["booking_id"] in reasons:
        out["cancel_reason"] = reasons[row["booking_id"]]
    return out


def _email(row: dict[str, Any], at: str) -> dict[str, Any]:
    return {"kind": row["kind"], "at": row[at], "message_id": row["message_id"], "subject": row["subject"]}


def _quota_use(events: list[dict[str, Any]], email: str) -> list[dict[str, Any]]:
    """Per (venue, period): the bookings counted against the person's quota and their minutes."""
    mine: dict[str, dict[str, Any]] = {}
    for event in events:
        data = json.loads(event["data"])
        counter = mine.get(event["aggregate_id"])
        if event["topic"] == "quota.opened":
            if data.get("user") == email:
                mine[event["aggregate_id"]] = {
                    "venue_id": data["venue_id"],
                    "period": data["period"],
                    "key": data["key"],
                    "counted": {},
                }
        elif counter is not None and event["topic"] == "quota.counted":
            counter["counted"][data["booking_id"]] = data["minutes"]
        elif counter is not None:
            counter["counted"].pop(data["booking_id"], None)
    return [
        {
            "venue_id": c["venue_id"],
            "period": c["period"],
            "key": c["key"],
            "bookings": len(c["counted"]),
            "minutes": sum(c["counted"].values()),
        }
        for c in mine.values()
        if c["counted"]
    ]
