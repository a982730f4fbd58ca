"""Who a request is: the viewer, and the refusals the web turns into 401, 403 and redirects."""

from dataclasses import dataclass
from datetime import datetime

SESSION_COOKIE = "dashboard_session"
# The double-submit cookie that protects the login and registration forms (no session yet).
ANONYMOUS_CSRF_COOKIE = "dashboard_csrf"


@dataclass(frozen=True)
class Viewer:
    id: int
    email: str
    is_admin: bool
    # The session's CSRF token; None when the request came with a Bearer token.
    csrf_token: str | None
    # The login it came with ("session:…" or "token:<id>"), and when that ends by itself:
    # an event stream ends with it (dashboard.hub).
    login: str = ""
    login_expires_at: datetime | None = None

    @property
    def by_session(self) -> bool:
        """Logged in through the page, not acting with a personal token."""
        return self.login.startswith("session:")


def session_login(token_hash: str) -> str:
    # A part of the session's digest (its key): enough to tell sessions apart, and not the
    # digest itself, which need not travel.
    return f"session:{token_hash[:16]}"


def token_login(token_id: int | None) -> str:
    return f"token:{token_id}"


class LoginRequired(Exception):
    """No valid session or token: the API answers 401, a page sends the browser to log in."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class CsrfRefused(Exception):
    """A state-changing request from a session without its CSRF token (403)."""

    reason = "the CSRF token is missing or wrong; reload the page and try again"


class CrossSiteRefused(CsrfRefused):
    """A state-changing request that the browser says another site's page sent (403)."""

    reason = "this was sent from another site's page; open the dashboard itself and try again"
