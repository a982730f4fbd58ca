"""The account page: who I am, and my personal API tokens (made, listed, revoked)."""

from typing import Annotated, Any

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, Field, ValidationError
from sqlmodel import Session

from dashboard.accounts import tokens
from dashboard.accounts.viewer import Viewer
from dashboard.deps import LOGGED_IN, CurrentUser, ServicesDep, SessionDep
from dashboard.routes.pages import page_or_fragment
from dashboard.submissions import field_errors

router = APIRouter(dependencies=LOGGED_IN)


class TokenRequest(BaseModel):
    name: str = Field(min_length=1, max_length=100, description="What the token is for")


class Me(BaseModel):
    id: int
    email: str
    is_admin: bool


def _tokens_context(session: Session, viewer: Viewer, **extra: Any) -> dict[str, Any]:
    listed = tokens.list_for(session, user_id=viewer.id)
    return {"tokens": listed, "new_token": None, "errors": {}, "name": "", **extra}


@router.get("/account", response_class=HTMLResponse, include_in_schema=False)
def account_page(
    request: Request, services: ServicesDep, session: SessionDep, viewer: CurrentUser
) -> HTMLResponse:
    context = _tokens_context(session, viewer)
    return page_or_fragment(request, services, "account.html", "partials/tokens.html", context)


@router.post("/account/tokens", response_class=HTMLResponse, include_in_schema=False)
def create_token(
    request: Request,
    services: ServicesDep,
    session: SessionDep,
    viewer: CurrentUser,
    name: Annotated[str, Form()] = "",
) -> HTMLResponse:
    """Makes a token and shows it this once; only its digest is kept."""
    try:
        wanted = TokenRequest(name=name.strip())
    except ValidationError as error:
        context = _tokens_context(session, viewer, errors=field_errors(error), name=name)
        return services.templates.TemplateResponse(
            request, "partials/tokens.html", context, status_code=422
        )
    plain, _ = tokens.create(session, user_id=viewer.id, name=wanted.name)
    context = _tokens_context(session, viewer, new_token=plain)
    return services.templates.TemplateResponse(request, "partials/tokens.html", context)


@router.post(
    "/account/tokens/{token_id}/revoke", response_class=HTMLResponse, include_in_schema=False
)
def revoke_token(
    request: Request, token_id: int, services: ServicesDep, session: SessionDep, viewer: CurrentUser
) -> HTMLResponse:
    if not tokens.revoke(session, user_id=viewer.id, token_id=token_id):
        raise HTTPException(404, detail="you have no live token with this id")
    context = _tokens_context(session, viewer)
    return services.templates.TemplateResponse(request, "partials/tokens.html", context)


@router.get("/api/me", response_model=Me, tags=["account"])
def who_am_i(viewer: CurrentUser) -> Me:
    """The user this request acts for."""
    return Me(id=viewer.id, email=viewer.email, is_admin=viewer.is_admin)
