"""Changing my password on the account page. The current password is asked for (a browser
left logged in is not enough), tries count against the account like logins, and every other
login of mine ends with the change, on every web replica, its event streams included."""

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse
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
from dashboard.services import Services
from dashboard.submissions import field_errors

router = APIRouter(dependencies=LOGGED_IN, include_in_schema=False)
FormField = Annotated[str, Form()]
FRAGMENT = "partials/password.html"


@router.post("/account/password", response_class=HTMLResponse)
def change_password(
    request: Request,
    services: ServicesDep,
    session: SessionDep,
    viewer: CurrentUser,
    current_password: FormField = "",
    new_password: FormField = "",
) -> HTMLResponse:
    refused = _refusal(request, services, session, viewer, current_password, new_password)
    if refused is not None:
        field, reason, status = refused
        context = {"password_errors": {field: reason}}
        return _answer(request, services, session, viewer, context, status)
    user = session.get(User, viewer.id)
    assert user is not None  # the viewer was read from it a moment ago
    users.set_password(session, user, new_password)
    ended = sessions.end_all(session, user_id=viewer.id, but=viewer.login)
    for key in ended:
        loginends.announce(services, session_login(key))
    return _answer(request, services, session, viewer, {"password_changed": len(ended)})


def _refusal(
    request: Request,
    services: Services,
    session: Session,
    viewer: Viewer,
    current: str,
    new: str,
) -> tuple[str, str, int] | None:
    """What is wrong (field, reason, status), or None when the change may go ahead."""
    if not viewer.login.startswith("session:"):
        # A token acts as its user, but is not them: it cannot take the account over.
        return "current_password", NOT_WITH_A_TOKEN, 403
    throttle, address = login_throttle(services), client_address(request)
    refused = throttle.attempt(address, viewer.email)
    if refused:
        wait = f"Too many wrong passwords: try again in {describe_wait(refused.seconds)}."
        return "current_password", wait, 429
    if users.authenticate(session, email=viewer.email, password=current) is None:
        return "current_password", "Wrong password.", 422
    throttle.forgive(address, viewer.email)
    problem = _new_password_problem(viewer.email, current, new)
    return None if problem is None else ("new_password", problem, 422)


NOT_WITH_A_TOKEN = "A password is changed from the account page, logged in with it."


def _new_password_problem(email: str, current: str, new: str) -> str | None:
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
    status: int = 200,
) -> HTMLResponse:
    """The section alone for htmx; the whole account page for a plain form post."""
    wants_fragment = request.headers.get("HX-Request") == "true"
    template = FRAGMENT if wants_fragment else "account.html"
    if not wants_fragment:
        context = {**tokens_context(session, viewer), **context}
    response = services.templates.TemplateResponse(request, template, context, status_code=status)
    return response
