"""The account page: who I am, and my personal API tokens (made, listed, revoked)."""

from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Form, HTTPException, Path, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from sqlmodel import Session

from dashboard import apidocs, loginends
from dashboard.accounts import tokens, users
from dashboard.accounts.throttle import FROM_ADDRESS, Refusal, describe_wait
from dashboard.accounts.users import MAX_PASSWORD_LENGTH, Credentials
from dashboard.accounts.viewer import Viewer, token_login
from dashboard.deps import LOGGED_IN, BrowserUser, CurrentUser, ServicesDep, SessionDep
from dashboard.models import ApiToken, utcnow
from dashboard.routes.auth import (
    EMAIL_TAKEN,
    client_address,
    login_throttle,
    registration_limit,
)
from dashboard.routes.pages import page_or_fragment
from dashboard.services import Services
from dashboard.storabletext import StorableText
from dashboard.submissions import field_errors

router = APIRouter(dependencies=LOGGED_IN)
# Token ids are SQL integers: one PostgreSQL cannot hold is refused (422), never a 500.
TokenId = Annotated[int, Path(ge=1, le=2**31 - 1)]
# Registration and trading a password for a token come before any login.
public = APIRouter(tags=["account"])


# Strict, as every number of the JSON API ("7" and true are 422s); the form's text is let in
# by validating it with strict=False.
LIFETIME = Field(
    tokens.DEFAULT_LIFETIME_DAYS,
    ge=1,
    le=tokens.MAX_LIFETIME_DAYS,
    strict=True,
    description="Days the token lasts; null: until revoked",
)


EXPIRY_CHOICE = f"choose when it expires: in 1 to {tokens.MAX_LIFETIME_DAYS} days, or never"


class TokenRequest(BaseModel):
    # A misspelt field is refused, not dropped: {"expires_in": 1} made a 90-day token without
    # a word (API probe).
    model_config = ConfigDict(extra="forbid")

    name: StorableText = Field(min_length=1, max_length=100, description="What the token is for")
    expires_in_days: int | None = LIFETIME

    @field_validator("name", mode="before")
    @classmethod
    def _trimmed(cls, name: Any) -> Any:
        """As the page's form does: a name of spaces is no name."""
        return name.strip() if isinstance(name, str) else name

    @property
    def lifetime(self) -> timedelta | None:
        return None if self.expires_in_days is None else timedelta(days=self.expires_in_days)


class Me(BaseModel):
    id: int
    email: str
    is_admin: bool


class TokenLogin(TokenRequest):
    """E-mail and password, traded for a personal token (for terminal clients and scripts)."""

    email: StorableText = Field(max_length=320)
    password: StorableText = Field(max_length=MAX_PASSWORD_LENGTH)
    name: StorableText = Field("API client", min_length=1, max_length=100)


class TokenInfo(BaseModel):
    id: int
    name: str
    prefix: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None
    expires_at: datetime | None  # null: until revoked


class NewToken(BaseModel):
    id: int
    name: str
    token: str = Field(description="Shown this once; send it as `Authorization: Bearer ...`")
    expires_at: datetime | None = Field(description="When it stops working; null: until revoked")


# Both are open to anyone: no login to lack, nor CSRF to check.
REGISTER_ANSWERS: apidocs.Answers = {
    **apidocs.JSON_BODY,
    422: apidocs.invalid("A bad address, a short password, or an e-mail already taken"),
    429: apidocs.answer("Too many registrations from this address", headers=apidocs.RETRY_AFTER),
    503: apidocs.UNAVAILABLE,
}
TOKEN_ANSWERS: apidocs.Answers = {
    **apidocs.JSON_BODY,
    401: apidocs.answer("Wrong e-mail or password"),
    409: apidocs.answer("The user holds the most live tokens allowed; revoke one first"),
    429: apidocs.answer(
        "Too many failed logins from this address, or to this account",
        headers=apidocs.RETRY_AFTER,
    ),
    503: apidocs.UNAVAILABLE,
}
REVOKE_ANSWERS: apidocs.Answers = {
    **apidocs.CHANGES,
    404: apidocs.answer("None of my live tokens has this id"),
}


def tokens_context(session: Session, viewer: Viewer, **extra: Any) -> dict[str, Any]:
    listed = tokens.list_for(session, user_id=viewer.id)
    return {
        "tokens": listed,
        "now": utcnow(),
        "new_token": None,
        "errors": {},
        "name": "",
        "expires_in_days": str(tokens.DEFAULT_LIFETIME_DAYS),
        **extra,
    }


@router.get("/account", response_class=HTMLResponse, include_in_schema=False)
def account_page(
    request: Request,
    services: ServicesDep,
    session: SessionDep,
    viewer: CurrentUser,
    password_changed: Annotated[int | None, Query(ge=0, le=1_000_000)] = None,
) -> HTMLResponse:
    """`password_changed`: where a plain form's password change lands (how many other
    logins it ended)."""
    context = tokens_context(session, viewer, password_changed=password_changed)
    return page_or_fragment(request, services, "account.html", "partials/tokens.html", context)


@router.post("/account/tokens", response_class=HTMLResponse, include_in_schema=False)
def create_token(
    request: Request,
    services: ServicesDep,
    session: SessionDep,
    viewer: BrowserUser,
    name: Annotated[str, Form()] = "",
    expires_in_days: Annotated[str, Form()] = str(tokens.DEFAULT_LIFETIME_DAYS),
) -> HTMLResponse:
    """Makes a token and shows it this once; only its digest is kept."""
    typed = {"name": name, "expires_in_days": expires_in_days}
    try:
        days = None if expires_in_days == "never" else expires_in_days
        fields = {"name": name.strip(), "expires_in_days": days}
        wanted = TokenRequest.model_validate(fields, strict=False)
        plain, _ = _create(services, session, viewer.id, wanted)
    except ValidationError as error:
        errors = field_errors(error)
        if "expires_in_days" in errors:  # a select: the words for a typed number would puzzle
            errors["expires_in_days"] = EXPIRY_CHOICE
        return _token_form(request, services, session, viewer, errors, typed)
    except tokens.TooManyTokens as error:
        # Not the name's fault: said for the form as a whole, as a sentence.
        refusal = str(error)
        errors = {"form": refusal[0].upper() + refusal[1:] + "."}
        return _token_form(request, services, session, viewer, errors, typed)
    context = tokens_context(session, viewer, new_token=plain)
    return services.templates.TemplateResponse(request, "partials/tokens.html", context)


def _create(
    services: Services, session: Session, user_id: int, wanted: TokenRequest
) -> tuple[str, ApiToken]:
    """The new token, plain and as stored; TooManyTokens past the user's limit."""
    most = services.settings.user_max_tokens
    return tokens.create(
        session, user_id=user_id, name=wanted.name, lifetime=wanted.lifetime, most=most
    )


def _token_form(
    request: Request,
    services: Services,
    session: Session,
    viewer: Viewer,
    errors: dict[str, str],
    typed: dict[str, str],
) -> HTMLResponse:
    """The form again, with what was typed and why it was refused."""
    context = tokens_context(session, viewer, errors=errors, **typed)
    return services.templates.TemplateResponse(
        request, "partials/tokens.html", context, status_code=422
    )


@router.post(
    "/account/tokens/{token_id}/revoke", response_class=HTMLResponse, include_in_schema=False
)
def revoke_token(
    request: Request,
    token_id: TokenId,
    services: ServicesDep,
    session: SessionDep,
    viewer: CurrentUser,
) -> HTMLResponse:
    _revoke(services, session, viewer, token_id)
    context = tokens_context(session, viewer)
    return services.templates.TemplateResponse(request, "partials/tokens.html", context)


@router.get(
    "/api/me",
    summary="Who I am",
    response_model=Me,
    tags=["account"],
    responses=apidocs.NEEDS_LOGIN,
)
def who_am_i(viewer: CurrentUser) -> Me:
    """The user this request acts for."""
    return Me(id=viewer.id, email=viewer.email, is_admin=viewer.is_admin)


@router.get(
    "/api/tokens",
    summary="List my tokens",
    response_model=list[TokenInfo],
    tags=["account"],
    responses=apidocs.NEEDS_LOGIN,
)
def list_tokens(session: SessionDep, viewer: CurrentUser) -> list[TokenInfo]:
    """My personal tokens (never the tokens themselves: only their first characters)."""
    listed = tokens.list_for(session, user_id=viewer.id)
    return [TokenInfo.model_validate(token, from_attributes=True) for token in listed]


@router.delete(
    "/api/tokens/{token_id}",
    summary="Revoke a token",
    status_code=204,
    tags=["account"],
    responses=REVOKE_ANSWERS,
)
def delete_token(
    token_id: TokenId, services: ServicesDep, session: SessionDep, viewer: CurrentUser
) -> None:
    """Revokes one of my tokens (the one this request uses included); event streams opened
    with it end."""
    _revoke(services, session, viewer, token_id)


def _revoke(services: Services, session: Session, viewer: Viewer, token_id: int) -> None:
    if not tokens.revoke(session, user_id=viewer.id, token_id=token_id):
        raise HTTPException(404, detail="you have no live token with this id")
    loginends.announce(services, token_login(token_id))


@public.post(
    "/api/users",
    summary="Register an account",
    status_code=201,
    response_model=Me,
    responses=REGISTER_ANSWERS,
)
def register_user(
    credentials: Credentials, request: Request, services: ServicesDep, session: SessionDep
) -> Me | JSONResponse:
    """Registers an account (the same rules and limit as the page's form)."""
    wait = registration_limit(services).take(client_address(request))
    if wait:
        return _too_many("registrations", Refusal(wait, FROM_ADDRESS))
    try:
        user = users.register(session, email=credentials.email, password=credentials.password)
    except users.EmailTaken as error:
        raise _email_taken() from error
    assert user.id is not None
    return Me(id=user.id, email=user.email, is_admin=user.is_admin)


def _too_many(what: str, refusal: Refusal) -> JSONResponse:
    wait = describe_wait(refusal.seconds)
    detail = f"too many {what} {refusal.source}; try again in {wait}"
    headers = {"Retry-After": str(refusal.seconds)}
    return JSONResponse({"detail": detail}, status_code=429, headers=headers)


def _email_taken() -> HTTPException:
    detail = [{"loc": ["body", "email"], "msg": EMAIL_TAKEN, "type": "value_error"}]
    return HTTPException(422, detail=detail)


@public.post(
    "/api/tokens",
    summary="Get a token with e-mail and password",
    status_code=201,
    response_model=NewToken,
    responses=TOKEN_ANSWERS,
)
def create_token_with_password(
    login: TokenLogin, request: Request, services: ServicesDep, session: SessionDep
) -> NewToken | JSONResponse:
    """Trades an e-mail and password for a new personal token; throttled like the login form."""
    throttle = login_throttle(services)
    address = client_address(request)
    refusal = throttle.attempt(address, login.email)
    if refusal:
        return _too_many("failed logins", refusal)
    user = users.find_by_email(session, email=login.email)
    if not users.password_matches(session, user, login.password) or user is None or user.id is None:
        throttle.failed(address, user.id if user else None)
        raise HTTPException(401, detail="wrong e-mail or password")
    throttle.forgive(address, login.email)
    try:
        plain, token = _create(services, session, user.id, login)
    except tokens.TooManyTokens as error:
        raise HTTPException(409, detail=str(error)) from error
    assert token.id is not None
    return NewToken(id=token.id, name=token.name, token=plain, expires_at=token.expires_at)
