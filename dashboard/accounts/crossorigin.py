"""Whether a browser sent a request from another site, told by headers no page can set.

The CSRF tokens leave one hole: the login and registration forms come before any session, so
their token is a double-submit cookie, and a cookie can be planted by a sibling subdomain or
by someone in the middle of plain HTTP. With a planted cookie and its value, another site could
post the login form and log a person in to the attacker's account, where what they then start
is the attacker's to see. Browsers name where a request came from in headers a page cannot
forge: `Sec-Fetch-Site` (every current browser), else `Origin`. The rule is that of Go's
net/http CrossOriginProtection, so a request without either (curl, a program) is left to the
token alone.
"""

from collections.abc import Mapping
from urllib.parse import urlsplit

# "none" is a request the person made themselves (typed, bookmarked), not one a page made.
OWN_SITE = frozenset({"same-origin", "none"})


def from_another_site(headers: Mapping[str, str]) -> bool:
    """True when the browser says a page of another origin sent it (header names lower-case,
    as Starlette's headers are)."""
    fetch_site = headers.get("sec-fetch-site")
    if fetch_site is not None:
        return fetch_site not in OWN_SITE
    origin = headers.get("origin")
    if origin is None:
        return False
    try:
        origin_host = urlsplit(origin).netloc
    except ValueError:  # "http://[::1": no browser sends it
        return True
    # "null" (a sandboxed frame, a redirect across sites) has no host, so it never matches.
    return origin_host.lower() != headers.get("host", "").lower()
