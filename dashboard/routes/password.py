"""Changing my password on the account page. The current password is asked for (a browser
left logged in is not enough), tries count against the account like logins, and every other
login of mine ends with the change, on every web replica, its event streams included."""

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from sqlmodel import Session

from dashboard import loginends
from dashboard.accounts import sessions, users
from dashboard.accounts.throttle import describe_wait
from dashboard.accounts.users import Credentials
from dashboard.accounts.viewer import Viewer, session_login
from dashboard.deps import LOGGED_IN, CurrentUser, ServicesDep, SessionDep
from dashboard.models import User
from dashboard.routes.account import tokens_context
from dashboard.routes.auth import client_address, login_throttle
from dashboard.routes.pages import page_or_fragment
from dashboard.services import Services
from dashboard.submissions import field_errors

router = APIRouter(dependencies=LOGGED_IN, include_in_schema=False)
FormField = Annotated[str, Form()]
FRAGMENT = "partials/password.html"


@dataclass(frozen=True)
class Refused:
    field: str
    reason: str
    status: int
    retry_after: int | None = None


@router.post("/account/password", response_class=HTMLResponse)
def change_password(
    request: Request,
    services: ServicesDep,
    session: SessionDep,
    viewer: CurrentUser,
    current_password: FormField = "",
    new_password: FormField = "",
) -> Response:
    refusals = _refusals(request, services, session, viewer, current_password, new_password)
    if refusals:
        errors = {refused.field: refused.reason for refused in refusals}
        response = _answer(request, services, session, viewer, {"password_errors": errors})
        first = refusals[0]
        response.status_code = first.status
        if first.retry_after is not None:
            response.headers["Retry-After"] = str(first.retry_after)
        return response
    user = session.get(User, viewer.id)
    assert user is not None  # the viewer was read from it a moment ago
    users.set_password(session, user, new_password)
    ended = sessions.end_all(session, user_id=viewer.id, but=viewer.login)
    loginends.announce(services, *(session_login(key) for key in ended))
    if request.headers.get("HX-Request") != "true":
        # A plain form goes on to the account page, so a reload does not send it again.
        return RedirectResponse(f"/account?password_changed={len(ended)}", status_code=303)
    return _answer(request, services, session, viewer, {"password_changed": len(ended)})


def _refusals(
    request: Request,
    services: Services,
    session: Session,
    viewer: Viewer,
    current: str,
    new: str,
) -> list[Refused]:
    """Everything wrong with the change, the answer's status first; none when it may go
    ahead. Both passwords are judged at once, so one correction is enough (a11y probe)."""
    if not viewer.by_session:
        # A token acts as its user, but is not them: it cannot take the account over.
        return [Refused("current_password", NOT_WITH_A_TOKEN, 403)]
    wrong = _current_password_refused(request, services, session, viewer, current)
    if wrong is not None and wrong.status == 429:
        return [wrong]
    # "The password you have" only once the current one is known to be it.
    problem = _new_password_problem(viewer.email, None if wrong else current, new)
    refusals = [] if wrong is None else [wrong]
    return refusals + ([] if problem is None else [Refused("new_password", problem, 422)])


def _current_password_refused(
    request: Request, services: Services, session: Session, viewer: Viewer, current: str
) -> Refused | None:
    """None when `current` is the password. A try counts against the account like a login;
    an empty field is asked for and not counted (QA: it was a "Wrong password." and a try)."""
    if not current:
        return Refused("current_password", "Enter your current password.", 422)
    throttle, address = login_throttle(services), client_address(request)
    refused = throttle.attempt(address, viewer.email)
    if refused:
        wait = f"Too many wrong passwords: try again in {describe_wait(refused.seconds)}."
        return Refused("current_password", wait, 429, refused.seconds)
    if users.authenticate(session, email=viewer.email, password=current) is None:
        return Refused("current_password", "Wrong password.", 422)
    throttle.forgive(address, viewer.email)
    return None


NOT_WITH_A_TOKEN = "An API token cannot change the password: log in and use the account page."


def _new_password_problem(email: str, current: str | None, new: str) -> str | None:
    if new == current:
        return "This is the password you have; choose another."
    try:
        Credentials(email=email, password=new)
    except ValidationError as error:
        return field_errors(error).get("password")
    return None


def _answer(
    request: Request,
    services: Services,
    session: Session,
    viewer: Viewer,
    context: dict[str, Any],
) -> HTMLResponse:
    """The section alone for htmx; the whole account page for a plain form post."""
    full = {**tokens_context(session, viewer), **context}
    return page_or_fragment(request, services, "account.html", FRAGMENT, full)
