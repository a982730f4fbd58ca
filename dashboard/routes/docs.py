"""The interactive API docs and the OpenAPI schema, for logged-in users only.

FastAPI's own /docs would be public; these are the same pages behind the login. In the docs,
"Authorize" takes a personal token from the account page.
"""

from typing import Any

from fastapi import APIRouter, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse

from dashboard.deps import LOGGED_IN

router = APIRouter(include_in_schema=False, dependencies=LOGGED_IN)


@router.get("/openapi.json")
def openapi_schema(request: Request) -> dict[str, Any]:
    return request.app.openapi()  # type: ignore[no-any-return]


@router.get("/docs", response_class=HTMLResponse)
def swagger_ui(request: Request) -> HTMLResponse:
    return get_swagger_ui_html(
        openapi_url="/openapi.json",
        title=f"{request.app.title} API",
        swagger_js_url="/static/vendor/swagger-ui-bundle.js",
        swagger_css_url="/static/vendor/swagger-ui.css",
        swagger_favicon_url="data:,",
    )
