"""FastAPI dependencies as typed aliases, so a route's signature reads like a sentence."""

from collections.abc import Iterator
from typing import Annotated, Literal

from fastapi import Depends, Header, HTTPException, Query, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlmodel import Session

from dashboard.accounts import sessions, tokens
from dashboard.accounts.credentials import same
from dashboard.accounts.crossorigin import from_another_site
from dashboard.accounts.sessioncookie import session_cookie
from dashboard.accounts.viewer import (
    CrossSiteRefused,
    CsrfRefused,
    LoginRequired,
    Viewer,
    session_login,
    token_login,
)
from dashboard.events import Audience
from dashboard.finishedfilter import FinishedFilter
from dashboard.models import TaskKind, TaskState
from dashboard.services import Services
from dashboard.storabletext import NO_NUL
from dashboard.tasksearch import MAX_TERM

# Methods that change nothing need no CSRF token.
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"
# What the Finished list's form sends; "" is its "any" choice.
StateChoice = Literal["", "SUCCESS", "FAILURE", "REVOKED", "LOST"]
KindChoice = Literal["", "pi", "demo", "csv"]
TOKEN_MAKES_NO_TOKEN = (
    "a personal token cannot make another; log in on the account page, or send the e-mail "
    "and password to POST /api/tokens"
)
_bearer = HTTPBearer(auto_error=False, description="A personal token from the account page")


def get_services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(get_services)]


def get_session(services: ServicesDep) -> Iterator[Session]:
    with Session(services.engine, expire_on_commit=False) as session:
        yield session


def get_viewer(
    request: Request,
    services: ServicesDep,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Viewer:
    """The user a request acts for: a Bearer token first, else the session cookie."""
    with Session(services.engine) as session:
        viewer = _from_token(session, bearer.credentials) if bearer else None
        if bearer and viewer is None:
            raise LoginRequired(_why_refused(session, bearer.credentials))
        cookie = session_cookie(request)
        if viewer is None and cookie:
            viewer = _from_cookie(session, cookie)
    if viewer is None:
        raise LoginRequired("log in first, or send a personal token as a Bearer header")
    request.state.viewer = viewer  # for templates: the top bar and the CSRF header
    return viewer


def viewer_by_cookie(request: Request) -> Viewer | None:
    """For a page no route's dependencies read the session for (an error page of an unknown
    address): who is logged in, so the top bar still shows their links. Blocking: call it
    from a thread."""
    cookie = session_cookie(request)
    if not cookie:
        return None
    with Session(get_services(request).engine) as session:
        return _from_cookie(session, cookie)


def _why_refused(session: Session, plain: str) -> str:
    if tokens.has_expired(session, plain=plain):
        return "the token has expired; make a new one on the account page"
    return "the token is unknown or revoked"


def _from_token(session: Session, plain: str) -> Viewer | None:
    found = tokens.find(session, plain=plain)
    if found is None:
        return None
    token, user = found
    assert user.id is not None
    login = token_login(token.id)
    return Viewer(
        user.id,
        user.email,
        user.is_admin,
        csrf_token=None,
        login=login,
        login_expires_at=token.expires_at,  # its streams end when it does
    )


def _from_cookie(session: Session, cookie: str) -> Viewer | None:
    found = sessions.find(session, cookie=cookie)
    if found is None:
        return None
    login, user = found
    assert user.id is not None
    return Viewer(
        user.id,
        user.email,
        user.is_admin,
        csrf_token=login.csrf_token,
        login=session_login(login.token_hash),
        login_expires_at=login.expires_at,
    )


async def check_csrf(request: Request, viewer: Annotated[Viewer, Depends(get_viewer)]) -> None:
    """A state-changing request on a session cookie must carry the session's CSRF token.

    htmx sends it as a header (set once on the page's body); a plain form as a field. Bearer
    requests need none: a browser never attaches a token to a forged request by itself.
    """
    if request.method in SAFE_METHODS or viewer.csrf_token is None:
        return
    given = request.headers.get(CSRF_HEADER) or await _form_field(request, CSRF_FIELD)
    refuse_forgery(request, viewer.csrf_token, given)


def refuse_forgery(request: Request, expected: str | None, given: str | None) -> None:
    """The one rule of both CSRF protections, the session's token and the login forms'
    double-submit cookie: a request that the browser says another site's page sent is refused
    even with the right token, which a planted cookie gives (crossorigin.py); then one without
    the token it must repeat."""
    if from_another_site(request.headers):
        raise CrossSiteRefused()
    if not same(expected, given):
        raise CsrfRefused()


async def _form_field(request: Request, name: str) -> str | None:
    content_type = request.headers.get("content-type", "")
    if not content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
        return None
    value = (await request.form()).get(name)
    return value if isinstance(value, str) else None


def require_admin(viewer: Annotated[Viewer, Depends(get_viewer)]) -> Viewer:
    if not viewer.is_admin:
        raise HTTPException(403, detail="only an admin may do this")
    return viewer


def require_login_session(viewer: Annotated[Viewer, Depends(get_viewer)]) -> Viewer:
    """A logged-in browser, not a personal token: a stolen short-lived token must not make
    itself a lasting one. A program trades the password for a token (POST /api/tokens)."""
    if not viewer.by_session:
        raise HTTPException(403, detail=TOKEN_MAKES_NO_TOKEN)
    return viewer


def get_audience(
    viewer: Annotated[Viewer, Depends(get_viewer)],
    scope: Annotated[
        Literal["mine", "all"],
        Query(description="`all` (admins only): every user's tasks, with their owners"),
    ] = "mine",
) -> Audience:
    if scope == "all" and not viewer.is_admin:
        raise HTTPException(403, detail="only an admin may see all users' tasks")
    return Audience(user_id=viewer.id, everyone=scope == "all")


def get_finished_filter(
    state: Annotated[StateChoice, Query(description="Only tasks that ended so")] = "",
    kind: Annotated[KindChoice, Query(description="Only tasks of this kind")] = "",
    q: Annotated[
        str,
        Query(
            max_length=MAX_TERM,
            pattern=NO_NUL,
            description="A task id (or its first 8+ characters), or text in parameters or error",
        ),
    ] = "",
) -> FinishedFilter:
    return FinishedFilter(
        state=TaskState(state) if state else None, kind=TaskKind(kind) if kind else None, typed=q
    )


def get_resume_id(
    last_event_id_header: Annotated[str | None, Header(alias="Last-Event-ID")] = None,
    last_event_id: Annotated[
        str | None,
        Query(description="Where to resume; for clients that cannot send Last-Event-ID."),
    ] = None,
) -> str | None:
    """The header wins: the browser's own reconnect sends it and it is the newer of the two."""
    return last_event_id_header or last_event_id


SessionDep = Annotated[Session, Depends(get_session)]
CurrentUser = Annotated[Viewer, Depends(get_viewer)]
AdminUser = Annotated[Viewer, Depends(require_admin)]
BrowserUser = Annotated[Viewer, Depends(require_login_session)]
AudienceDep = Annotated[Audience, Depends(get_audience)]
ResumeIdDep = Annotated[str | None, Depends(get_resume_id)]
FinishedFilterDep = Annotated[FinishedFilter, Depends(get_finished_filter)]
# Added to every router that needs a logged-in user; CSRF is checked on state changes.
LOGGED_IN = [Depends(get_viewer), Depends(check_csrf)]
ADMIN_ONLY = [Depends(require_admin), Depends(check_csrf)]
