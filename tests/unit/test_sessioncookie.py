"""Which session cookie a request carries, when it carries one we can trust, and the domains
a login clears of planted copies."""

import pytest
from starlette.requests import Request

from dashboard.accounts.sessioncookie import copies_carried, domains_to_clear, session_cookie


def request_with(*cookie_headers: str) -> Request:
    headers = [(b"cookie", value.encode()) for value in cookie_headers]
    return Request({"type": "http", "method": "GET", "path": "/", "headers": headers})


def test_one_session_cookie_among_others_is_taken() -> None:
    request = request_with("theme=dark; dashboard_session=abc; dashboard_csrf=x")
    assert session_cookie(request) == "abc"


@pytest.mark.parametrize(
    "headers",
    [
        ("dashboard_session=mine; dashboard_session=planted",),
        ("dashboard_session=planted", "dashboard_session=mine"),
        ("dashboard_session=same; dashboard_session=same",),
    ],
)
def test_two_copies_are_no_session_at_all(headers: tuple[str, ...]) -> None:
    request = request_with(*headers)
    assert len(copies_carried(request)) == 2 and session_cookie(request) is None


def test_no_cookie_or_an_empty_one_is_no_session() -> None:
    assert session_cookie(request_with()) is None
    assert session_cookie(request_with("dashboard_session=")) is None
    assert copies_carried(request_with("xdashboard_session=1; dashboard_sessionx=2")) == []


@pytest.mark.parametrize(
    ("host", "domains"),
    [
        ("dash.example.com", ["dash.example.com", "example.com"]),
        ("a.b.example.co.uk", ["a.b.example.co.uk", "b.example.co.uk", "example.co.uk", "co.uk"]),
        ("example.com.", ["example.com"]),
        ("localhost", []),
        ("127.0.0.1", []),
        ("[::1]", []),
        (None, []),
    ],
)
def test_a_login_clears_copies_set_for_this_host_and_its_parents(
    host: str | None, domains: list[str]
) -> None:
    assert domains_to_clear(host) == domains
