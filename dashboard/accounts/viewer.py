"""Who a request is: the viewer, and the refusals the web turns into 401, 403 and redirects."""

from dataclasses import dataclass

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


class LoginRequired(Exception):
    """No valid session or token: the API answers 401, a page sends the browser to log in."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class CsrfRefused(Exception):
    """A state-changing request from a session without its CSRF token (403)."""

    reason = "the CSRF token is missing or wrong; reload the page and try again"
