"""The caller's own data: `GET /api/me/export` (CONTRACT "Personal data: export and erasure")."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from bookit.entrypoints.api.deps import ALWAYS, CallerDep
from bookit.entrypoints.api.problems import documented
from bookit.errors import BadInput
from bookit.personal.export import export_person

router = APIRouter(prefix="/api/me", tags=["personal data"])


@router.get("/export", responses=ALWAYS | documented(404))
def export_me(caller: CallerDep) -> dict[str, Any]:
    """Everything BookIT holds about you, as one JSON document: bookings (with their names and
    purposes), waitlist entries, strikes, quota use, check-ins and the emails sent to you.
    404 `unknown_person` when it holds nothing."""
    document = export_person(caller.door.service.engine, caller.actor)
    if document is None:
        raise BadInput("BookIT holds nothing about you (never seen, or erased)", "unknown_person")
    return document
