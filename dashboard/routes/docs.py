"""The interactive API docs and the OpenAPI schema, for logged-in users only.

FastAPI's own /docs would be public; these are the same pages behind the login. In the docs,
"Authorize" takes a personal token from the account page.
"""

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from dashboard.deps import LOGGED_IN, ServicesDep

router = APIRouter(include_in_schema=False, dependencies=LOGGED_IN)


@router.get("/openapi.json")
def openapi_schema(request: Request) -> dict[str, Any]:
    return request.app.openapi()  # type: ignore[no-any-return]


@router.get("/docs", response_class=HTMLResponse)
def swagger_ui(request: Request, services: ServicesDep) -> HTMLResponse:
    context = {"title": f"{request.app.title} API", "openapi_url": "/openapi.json"}
    return services.templates.TemplateResponse(request, "docs.html", context)
