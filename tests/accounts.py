"""Users for tests: made straight in the database, or through the real register form."""

import re
import uuid
from dataclasses import dataclass, field, replace
from datetime import timedelta

import httpx
from sqlalchemy import Engine
from sqlmodel import Session

from dashboard.accounts import sessions, tokens, users
from dashboard.accounts.viewer import SESSION_COOKIE

PASSWORD = "correct horse battery"


@dataclass
class Account:
    id: int
    email: str
    cookie: str
    csrf: str
    token: str
    is_admin: bool = False
    # Headers a browser page would send (cookie and the CSRF header htmx adds).
    page_headers: dict[str, str] = field(default_factory=dict)

    @property
    def bearer(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    @property
    def cookies(self) -> dict[str, str]:
        return {SESSION_COOKIE: self.cookie}


def unique_email(prefix: str = "user") -> str:
    """Unique across runs too: a PostgreSQL test database outlives a test session."""
    return f"{prefix}-{uuid.uuid4().hex[:10]}@example.com"


def make_user(engine: Engine, *, admin: bool = False, prefix: str = "user") -> Account:
    """A user with a live session and a personal token, straight in the database."""
    with Session(engine, expire_on_commit=False) as session:
        user = users.register(
            session, email=unique_email(prefix), password=PASSWORD, is_admin=admin
        )
        assert user.id is not None
        cookie, login = sessions.start(session, user_id=user.id, lifetime=timedelta(hours=1))
        plain, _ = tokens.create(session, user_id=user.id, name="tests", lifetime=None, most=50)
    return Account(
        id=user.id,
        email=user.email,
        cookie=cookie,
        csrf=login.csrf_token,
        token=plain,
        is_admin=admin,
        page_headers={"X-CSRF-Token": login.csrf_token},
    )


def new_login(engine: Engine, account: Account) -> Account:
    """The same user logged in afresh (another browser), e.g. after a test logged out."""
    with Session(engine, expire_on_commit=False) as session:
        cookie, login = sessions.start(session, user_id=account.id, lifetime=timedelta(hours=1))
    return replace(
        account,
        cookie=cookie,
        csrf=login.csrf_token,
        page_headers={"X-CSRF-Token": login.csrf_token},
    )


def page_client(base_url: str, user: Account, **options: object) -> httpx.Client:
    """A client that acts like the page: session cookie and CSRF header."""
    client = httpx.Client(base_url=base_url, timeout=10, **options)  # type: ignore[arg-type]
    client.cookies.set(SESSION_COOKIE, user.cookie)
    client.headers.update(user.page_headers)
    return client


def form_token(html: str) -> str:
    """The CSRF token a login or registration form carries."""
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, "the form has no CSRF token"
    return found.group(1)


def page_csrf(html: str) -> str:
    """The session's CSRF token, which a logged-in page hands htmx in its body's hx-headers."""
    found = re.search(r'"X-CSRF-Token": "([^"]+)"', html)
    assert found, "the page carries no CSRF token"
    return found.group(1)
