"""Register, log in, log out: pages with htmx forms that also work as plain HTML forms.

These forms come before any session, so they are protected from cross-site posting by a
double-submit token: a random value in an HttpOnly cookie that the form must repeat. A cookie
can be planted, so a post that the browser says came from another site is refused first
(dashboard.accounts.crossorigin).
"""

from datetime import timedelta
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from sqlmodel import Session

from dashboard import loginends
from dashboard.accounts import sessions, users
from dashboard.accounts.credentials import new_token
from dashboard.accounts.sessioncookie import copies_carried, domains_to_clear, session_cookie
from dashboard.accounts.throttle import (
    FROM_ADDRESS,
    AddressLimit,
    LoginThrottle,
    Refusal,
    describe_wait,
)
from dashboard.accounts.viewer import (
    ANONYMOUS_CSRF_COOKIE,
    SESSION_COOKIE,
    session_login,
)
from dashboard.deps import (
    CSRF_FIELD,
    CurrentUser,
    ServicesDep,
    SessionDep,
    check_csrf,
    refuse_forgery,
)
from dashboard.forms import FormState
from dashboard.services import Services
from dashboard.submissions import field_errors

router = APIRouter(include_in_schema=False)
FormField = Annotated[str, Form()]
EMAIL_TAKEN = "an account with this e-mail exists already"
AUTH_PAGES = frozenset({"/login", "/register"})


def safe_next(target: str | None) -> str:
    """Only a path on this site: an open redirect to another site would help phishing. Control
    characters are refused too: a browser drops a tab or newline from a URL, which turns
    "/<tab>/evil.example" into "//evil.example", and no header may carry them."""
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")):
        return "/"
    if any(ord(character) < 0x20 or ord(character) == 0x7F for character in target):
        return "/"
    if urlsplit(target).path in AUTH_PAGES:  # they send someone logged in on: a loop
        return "/"
    return target


def _anonymous_token(request: Request) -> tuple[str, bool]:
    existing = request.cookies.get(ANONYMOUS_CSRF_COOKIE)
    return (existing, False) if existing else (new_token(), True)


def _form_page(
    request: Request,
    services: Services,
    template: str,
    form: FormState,
    status: int = 200,
    notice: str | None = None,
) -> HTMLResponse:
    token, fresh = _anonymous_token(request)
    wants_fragment = request.headers.get("HX-Request") == "true"
    name = f"partials/{template}_form.html" if wants_fragment else f"{template}.html"
    context = {"form": form, "csrf_token": token, "notice": notice}
    response = services.templates.TemplateResponse(request, name, context, status_code=status)
    if fresh:
        _set_cookie(request, response, ANONYMOUS_CSRF_COOKIE, token, max_age=None)
    return response


def _set_cookie(
    request: Request, response: Response, name: str, value: str, max_age: int | None
) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
        path="/",
    )


def _check_anonymous_csrf(request: Request, given: str) -> None:
    refuse_forgery(request, request.cookies.get(ANONYMOUS_CSRF_COOKIE), given)


def _go(request: Request, target: str) -> Response:
    """Sends the browser on: HX-Redirect for htmx, a 303 for a plain form."""
    redirect = RedirectResponse(target, status_code=303)
    if request.headers.get("HX-Request") == "true":
        # The same address the 303 would give, percent-encoded as its Location is.
        return Response(status_code=204, headers={"HX-Redirect": redirect.headers["location"]})
    return redirect


def _logged_in(
    request: Request, services: Services, session: Session, user_id: int, target: str
) -> Response:
    lifetime = timedelta(hours=services.settings.session_hours)
    cookie, _ = sessions.start(session, user_id=user_id, lifetime=lifetime)
    response = _go(request, safe_next(target))
    _clear_planted_copies(request, response)
    _set_cookie(request, response, SESSION_COOKIE, cookie, int(lifetime.total_seconds()))
    return response


def _clear_planted_copies(request: Request, response: Response) -> None:
    """Ends the session cookies another host may have set for our domain, so that ours is
    the only one the browser sends (dashboard.accounts.sessioncookie)."""
    if not copies_carried(request):
        return
    for domain in domains_to_clear(request.url.hostname):
        response.set_cookie(SESSION_COOKIE, "", max_age=0, domain=domain, path="/")


def _has_session(request: Request, session: Session) -> bool:
    cookie = session_cookie(request)
    return cookie is not None and sessions.find(session, cookie=cookie) is not None


@router.get("/login", response_class=HTMLResponse)
def login_page(
    request: Request,
    services: ServicesDep,
    session: SessionDep,
    next: str = "/",
    ended: bool = False,
) -> Response:
    """The login form; someone logged in already goes straight on to where they were going.
    `ended`: a page whose login ended sent the browser here (dashboard.js), and is told why."""
    if _has_session(request, session):
        return RedirectResponse(safe_next(next), status_code=303)
    form = FormState(values={"email": "", "next": safe_next(next)})
    return _form_page(request, services, "login", form, notice=LOGIN_ENDED if ended else None)


LOGIN_ENDED = (
    "Your login ended: you logged out on another page, your password was changed, or it "
    "expired. Log in again to go on."
)


@router.post("/login")
def log_in(
    request: Request,
    services: ServicesDep,
    session: SessionDep,
    email: FormField = "",
    password: FormField = "",
    next: FormField = "/",
    csrf_token: Annotated[str, Form(alias=CSRF_FIELD)] = "",
) -> Response:
    _check_anonymous_csrf(request, csrf_token)
    form = FormState(values={"email": email, "next": safe_next(next)})
    throttle = login_throttle(services)
    address = client_address(request)
    refusal = throttle.attempt(address, email)
    if refusal:
        return _refused(request, services, "login", form, "Too many failed logins", refusal)
    user = users.find_by_email(session, email=email)
    if not users.password_matches(session, user, password) or user is None or user.id is None:
        throttle.failed(address, user.id if user else None)
        form.errors["form"] = "Wrong e-mail or password."
        return _form_page(request, services, "login", form, status=401)
    throttle.forgive(address, email)
    return _logged_in(request, services, session, user.id, next)


def _refused(
    request: Request,
    services: Services,
    template: str,
    form: FormState,
    what: str,
    refusal: Refusal,
) -> Response:
    """The form again, saying why and for how long (429 with Retry-After)."""
    wait = describe_wait(refusal.seconds)
    form.errors["form"] = f"{what} {refusal.source}. Try again in {wait}."
    response = _form_page(request, services, template, form, status=429)
    response.headers["Retry-After"] = str(refusal.seconds)
    return response


def client_address(request: Request) -> str:
    """The caller's address (uvicorn takes it from X-Forwarded-For only from trusted proxies)."""
    return request.client.host if request.client else "unknown"


def login_throttle(services: Services) -> LoginThrottle:
    settings = services.settings
    return LoginThrottle(
        services.redis,
        settings.login_max_failures,
        settings.login_window_seconds,
        account_limit=settings.login_account_max_failures,
    )


def registration_limit(services: Services) -> AddressLimit:
    settings = services.settings
    limit, window = settings.register_max_attempts, settings.register_window_seconds
    return AddressLimit(services.redis, limit, window)


@router.get("/register", response_class=HTMLResponse)
def register_page(request: Request, services: ServicesDep, session: SessionDep) -> Response:
    if _has_session(request, session):
        return RedirectResponse("/", status_code=303)
    return _form_page(request, services, "register", FormState(values={"email": ""}))


@router.post("/register")
def register(
    request: Request,
    services: ServicesDep,
    session: SessionDep,
    email: FormField = "",
    password: FormField = "",
    csrf_token: Annotated[str, Form(alias=CSRF_FIELD)] = "",
) -> Response:
    _check_anonymous_csrf(request, csrf_token)
    form = FormState(values={"email": email})
    try:
        credentials = users.Credentials(email=email, password=password)
    except ValidationError as error:
        form.errors = field_errors(error)
        return _form_page(request, services, "register", form, status=422)
    wait = registration_limit(services).take(client_address(request))
    if wait:
        refusal = Refusal(wait, FROM_ADDRESS)
        return _refused(request, services, "register", form, "Too many registrations", refusal)
    try:
        user = users.register(session, email=credentials.email, password=credentials.password)
    except users.EmailTaken:
        form.errors["email"] = f"{EMAIL_TAKEN.capitalize()}. Log in instead?"
        return _form_page(request, services, "register", form, status=422)
    assert user.id is not None
    return _logged_in(request, services, session, user.id, "/")


@router.post("/logout", dependencies=[Depends(check_csrf)])
def log_out(
    request: Request, services: ServicesDep, session: SessionDep, viewer: CurrentUser
) -> Response:
    cookie = session_cookie(request)
    ended = sessions.end(session, cookie=cookie) if cookie else None
    if ended:
        loginends.announce(services, session_login(ended))
    response = _go(request, "/login")
    # Set as it was made (HttpOnly, SameSite, Secure over https), so even its ending is.
    _clear_planted_copies(request, response)
    _set_cookie(request, response, SESSION_COOKIE, "", max_age=0)
    return response
