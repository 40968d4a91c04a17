"""`GET /api/docs`: Swagger UI over the served OpenAPI document, with its script, stylesheet and
icon served from here, out of the `swagger-ui-py` package, never from a CDN: the page works on a
machine without internet, like everything else BookIT serves. (`swagger-ui-bundle` ships
Swagger UI 4, which cannot read the OpenAPI 3.1 document FastAPI writes; `swagger-ui-py`
ships Swagger UI 5.) The page's policy lets it load nothing from another origin."""

from __future__ import annotations

from pathlib import Path

import swagger_ui
from fastapi import APIRouter
from fastapi.openapi.docs import get_swagger_ui_html
from starlette.responses import FileResponse, HTMLResponse

from bookit.errors import NotFound

router = APIRouter()
ASSETS = Path(swagger_ui.__file__).parent / "static"
_TYPES = {
    "swagger-ui-bundle.js": "text/javascript",
    "swagger-ui.css": "text/css",
    "favicon-32x32.png": "image/png",
}
# Swagger UI sets styles inline and reads the document with fetch; it needs nothing else.
_POLICY = (
    "default-src 'none'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; base-uri 'none'; frame-ancestors 'none'"
)


@router.get("/api/docs", include_in_schema=False)
async def docs() -> HTMLResponse:
    page = get_swagger_ui_html(
        openapi_url="/api/openapi.json",
        title="BookIT API",
        swagger_js_url="/api/docs/swagger-ui-bundle.js",
        swagger_css_url="/api/docs/swagger-ui.css",
        swagger_favicon_url="/api/docs/favicon-32x32.png",
    )
    page.headers["Content-Security-Policy"] = _POLICY
    return page


@router.get("/api/docs/{asset}", include_in_schema=False)
async def docs_asset(asset: str) -> FileResponse:
    if asset not in _TYPES:
        raise NotFound("docs asset", asset)
    return FileResponse(ASSETS / asset, media_type=_TYPES[asset])
