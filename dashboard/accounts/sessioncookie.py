"""The session cookie as a request carries it, and the clearing of copies another site set.

A page on a sibling subdomain, or on another port of this host, can set a cookie of our name.
When a browser sends two, which one is ours cannot be told, and the last one, which Starlette
would take, is the one the planter chose: the request is taken as logged out instead
(security probe). A login clears the copies it can reach, those set for this host's domain or
a parent domain at the root path, so that the browser is left with ours alone.
"""

import ipaddress

from starlette.requests import Request

from dashboard.accounts.viewer import SESSION_COOKIE


def session_cookie(request: Request) -> str | None:
    """The session cookie's value, if the request carries exactly one."""
    values = copies_carried(request)
    return values[0] if len(values) == 1 and values[0] else None


def copies_carried(request: Request) -> list[str]:
    """Every value sent under the session cookie's name, in the order sent."""
    pairs = "; ".join(request.headers.getlist("cookie")).split(";")
    named = (pair.strip().partition("=") for pair in pairs)
    return [value.strip().strip('"') for name, _, value in named if name.strip() == SESSION_COOKIE]


def domains_to_clear(host: str | None) -> list[str]:
    """The domains a planted copy may have been set for: this host's name and each parent
    above it, short of a bare top-level name ("dash.example.com": itself and "example.com";
    a browser ignores the clearing of a public suffix such as "co.uk", as it refuses to set one).
    None for an address or a single-label name, which no other host can set cookies for."""
    if not host:
        return []
    try:
        ipaddress.ip_address(host.strip("[]"))
        return []
    except ValueError:
        labels = host.rstrip(".").split(".")
        return [".".join(labels[start:]) for start in range(len(labels) - 1)]
