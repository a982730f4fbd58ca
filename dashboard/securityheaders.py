"""Headers every answer carries, so that a browser keeps the pages to this site and to this user.

- A Content-Security-Policy that lets the pages run only this site's own scripts and styles
  (the templates hold no inline script or style, and autoescape keeps it so; the API docs
  too, as templates/docs.html starts Swagger UI from a file of ours), connect only
  here, and be framed by no site at all (X-Frame-Options says the same to older browsers):
  a page that frames ours cannot trick a click on Cancel or Revoke.
- `Cache-Control: no-store` on everything but the static files: pages, fragments, JSON and
  downloads are one user's, and must not be kept by a shared cache or shown again from the
  browser's history after logging out. A response that sets its own keeps it.
- Over https (directly, or through a trusted proxy that says so), `Strict-Transport-Security`:
  a browser that has been here once comes back over https only, for a year, so no one on
  its network can serve it a plain-http copy of the login page.
- `nosniff`, so a download or a JSON answer is never run as a script or page, and
  `Referrer-Policy`, so task ids in our addresses are not sent to other sites.

A pure ASGI layer: it touches only the response start, so an event stream, handed out of
the layers once started (dashboard.handover), pays nothing per message.
"""

from starlette.types import ASGIApp, Message, Receive, Scope, Send

PAGE_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; "
    "frame-ancestors 'none'"
)
HSTS = (b"strict-transport-security", b"max-age=31536000")
STATIC_PREFIX = "/static/"


def _headers(policy: str, *, stored: bool) -> list[tuple[bytes, bytes]]:
    headers = [
        (b"content-security-policy", policy.encode()),
        (b"x-frame-options", b"DENY"),
        (b"x-content-type-options", b"nosniff"),
        (b"referrer-policy", b"same-origin"),
    ]
    return headers if stored else [*headers, (b"cache-control", b"no-store")]


# Built once: every request takes one of these as it is.
PAGE_HEADERS = _headers(PAGE_POLICY, stored=False)
STATIC_HEADERS = _headers(PAGE_POLICY, stored=True)


def headers_for(path: str) -> list[tuple[bytes, bytes]]:
    return STATIC_HEADERS if path.startswith(STATIC_PREFIX) else PAGE_HEADERS


def header_dict(path: str) -> dict[str, str]:
    """The same, for an answer made outside this layer: Starlette's 500 comes from the
    outermost layer of all, past the ones an app adds."""
    return {name.decode(): value.decode() for name, value in headers_for(path)}


class SecurityHeaders:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        extra = headers_for(scope["path"])
        if scope.get("scheme") == "https":
            extra = [*extra, HSTS]

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = _with_defaults(message.get("headers", []), extra)
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _with_defaults(
    headers: list[tuple[bytes, bytes]], defaults: list[tuple[bytes, bytes]]
) -> list[tuple[bytes, bytes]]:
    """`headers` plus each default the response did not set itself."""
    present = {name.lower() for name, _ in headers}
    return [*headers, *(header for header in defaults if header[0] not in present)]
