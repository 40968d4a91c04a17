"""The waitlist: join, mine (place in line, seconds left on an offer), claim, decline, leave,
history. Only the owner claims, declines or leaves (the domain decides, as for the CLI); an admin
may join someone else with a priority."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from fastapi import APIRouter

from bookit import audit
from bookit import commands as c
from bookit.entrypoints.api import schemas as s
from bookit.entrypoints.api.deps import ALWAYS, WITH_BODY, Caller, CallerDep, IdempotencyKey
from bookit.entrypoints.api.pages import PageDep, numbered, step_key
from bookit.entrypoints.api.problems import documented, links
from bookit.errors import NotFound
from bookit.projections import queries

router = APIRouter(prefix="/api/waitlist", tags=["waitlist"])
ACTED = WITH_BODY | documented(403, 404, 409)


@router.post(
    "",
    status_code=201,
    responses=WITH_BODY | documented(403, 404, 409),
    openapi_extra=links(
        201,
        "entry_id",
        claim="claim_offer",
        decline="decline_offer",
        leave="leave_waitlist",
        history="entry_history",
    ),
)
def join(body: s.NewEntry, caller: CallerDep, key: IdempotencyKey = None) -> s.EntryJoined:
    """Join the queue of a slot that is not free. 409 `slot_free` when you can simply book it."""
    outcome = caller.door.run(c.JoinWaitlist, caller.actor, "waitlist.join", key, **body.model_dump())
    return s.EntryJoined(**outcome)


@router.get("/mine", responses=ALWAYS)
def mine(caller: CallerDep, page: PageDep) -> list[s.WaitlistEntry]:
    """Your active entries: waiting (with your place in line) or offered (with seconds left)."""
    rows = queries.my_waitlist(caller.door.service.engine, caller.actor, caller.door.clock())
    return [s.WaitlistEntry(**row) for row in page.of(rows, _entry_key)]


def _entry_key(row: dict[str, Any]) -> tuple[str, str, str]:
    return row["date"], row["start"], row["entry_id"]  # my_waitlist's order


@router.post("/{entry_id}/claim", operation_id="claim_offer", status_code=201, responses=ACTED)
def claim(entry_id: UUID, caller: CallerDep, key: IdempotencyKey = None) -> s.Claimed:
    """Claim an open offer: the slot is booked for you, confirmed. Only one claim wins."""
    outcome = caller.door.run(c.ClaimOffer, caller.actor, "waitlist.claim", key, entry_id=entry_id)
    return s.Claimed(**outcome)


@router.post("/{entry_id}/decline", operation_id="decline_offer", responses=ACTED)
def decline(entry_id: UUID, caller: CallerDep, key: IdempotencyKey = None) -> s.EntryOutcome:
    """Pass an open offer on to the next in line at once."""
    return _act(caller, c.DeclineOffer, "waitlist.decline", key, entry_id)


@router.delete("/{entry_id}", operation_id="leave_waitlist", responses=ACTED)
def leave(entry_id: UUID, caller: CallerDep, key: IdempotencyKey = None) -> s.EntryOutcome:
    """Leave the queue; the others keep their order."""
    return _act(caller, c.LeaveWaitlist, "waitlist.leave", key, entry_id)


@router.get("/{entry_id}/history", operation_id="entry_history", responses=ALWAYS | documented(403, 404))
def history(entry_id: UUID, caller: CallerDep, page: PageDep) -> list[s.HistoryEvent]:
    """Every event about the entry in store order (joined, offered, claimed, expired, ...), each
    in words, with the emails it owed, as `bookit history ENTRY --emails`."""
    engine = caller.door.service.engine
    row = queries.waitlist_entry(engine, str(entry_id))
    if row is None:
        raise NotFound("waitlist entry", entry_id)
    caller.may_see(row["user"], "waitlist entry")
    found = audit.history(caller.door.service, str(entry_id), emails=True)
    return [s.HistoryEvent(**step) for _, step in page.of(numbered(found.steps), step_key)]


def _act(caller: Caller, cls: type[c.Command], operation: str, key: str | None, entry_id: UUID) -> Any:
    outcome = caller.door.run(cls, caller.actor, operation, key, entry_id=entry_id)
    return s.EntryOutcome(entry_id=outcome["entry_id"])
