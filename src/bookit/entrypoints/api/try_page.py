"""`GET /api/try`: a plain HTML page that books and confirms with `fetch` and a pasted token,
to try the API from a browser (and to prove, in a real one, that CORS stays off by default).
It holds no secret and needs no token to load; every call it makes sends the pasted one."""

from __future__ import annotations

import secrets
from pathlib import Path

from fastapi import APIRouter
from starlette.responses import HTMLResponse

router = APIRouter()
_PAGE = (Path(__file__).parent / "static" / "try.html").read_text()


@router.get("/api/try", include_in_schema=False)
async def try_page() -> HTMLResponse:
    nonce = secrets.token_urlsafe(16)
    csp = (
        f"default-src 'none'; script-src 'nonce-{nonce}'; style-src 'unsafe-inline'; "
        "connect-src *; base-uri 'none'; frame-ancestors 'none'"
    )
    return HTMLResponse(_PAGE.replace("{nonce}", nonce), headers={"Content-Security-Policy": csp})
