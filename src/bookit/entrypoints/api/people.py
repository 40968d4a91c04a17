"""The caller's own data: `GET /api/me/export` (CONTRACT "Personal data: export and erasure")."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from bookit.entrypoints.api.deps import ALWAYS, CallerDep
from bookit.entrypoints.api.problems import documented
from bookit.personal.export import export_for

router = APIRouter(prefix="/api/me", tags=["personal data"])


@router.get("/export", responses=ALWAYS | documented(404))
def export_me(caller: CallerDep) -> dict[str, Any]:
    """Everything BookIT holds about you, as one JSON document: bookings (with their names and
    purposes), waitlist entries, strikes, quota use, check-ins and the emails sent to you.
    404 `unknown_person` when it holds nothing."""
    return export_for(caller.door.service.engine, caller.actor, actor_is_admin=False, own=True)
