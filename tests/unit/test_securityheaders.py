"""The headers every answer gets, through ASGI: the page policy (the docs' too), no-store
except for static files, and a response's own choice of a header kept."""

import httpx
from fastapi import FastAPI
from starlette.types import Message, Receive, Scope, Send

from dashboard.errors import install_error_handlers
from dashboard.securityheaders import PAGE_POLICY, SecurityHeaders
from tests.aio import run


async def answer(scope: Scope, receive: Receive, send: Send) -> None:
    """An application that sets Cache-Control itself on /cached, and nothing elsewhere."""
    headers = [(b"cache-control", b"max-age=60")] if scope["path"] == "/cached" else []
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": b"hello", "more_body": False})


def headers_of(path: str, scheme: str = "http") -> dict[str, list[str]]:
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "GET", "path": path, "headers": [], "scheme": scheme}
    run(SecurityHeaders(answer)(scope, receive, send))
    assert sent[1]["body"] == b"hello"
    headers: dict[str, list[str]] = {}
    for name, value in sent[0]["headers"]:
        headers.setdefault(name.decode(), []).append(value.decode())
    return headers


def test_a_page_is_framed_by_nobody_runs_only_its_own_scripts_and_is_not_stored() -> None:
    headers = headers_of("/")
    assert headers["content-security-policy"] == [PAGE_POLICY]
    assert "script-src 'self';" in PAGE_POLICY and "frame-ancestors 'none'" in PAGE_POLICY
    assert headers["x-frame-options"] == ["DENY"]
    assert headers["x-content-type-options"] == ["nosniff"]
    assert headers["referrer-policy"] == ["same-origin"]
    assert headers["cache-control"] == ["no-store"]


def test_the_docs_run_under_the_page_policy_and_static_files_may_be_cached() -> None:
    """The docs used to allow inline scripts for Swagger UI's start; docs.js starts it now."""
    assert headers_of("/docs")["content-security-policy"] == [PAGE_POLICY]
    static = headers_of("/static/app.js")
    assert "cache-control" not in static and static["x-content-type-options"] == ["nosniff"]


def test_a_response_that_sets_a_header_itself_keeps_it() -> None:
    assert headers_of("/cached")["cache-control"] == ["max-age=60"]


def test_an_unforeseen_failure_is_a_500_with_the_same_headers() -> None:
    """Starlette answers a 500 from its outermost layer, past the layers an app adds."""
    app = FastAPI()
    install_error_handlers(app)
    app.add_middleware(SecurityHeaders)

    @app.get("/api/broken")
    def broken() -> None:
        raise RuntimeError("a bug")

    async def ask() -> httpx.Response:
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            return await client.get("/api/broken")

    answer = run(ask())
    assert answer.status_code == 500 and answer.json() == {"detail": "internal server error"}
    assert answer.headers["content-security-policy"] == PAGE_POLICY
    assert answer.headers["cache-control"] == "no-store"
    assert answer.headers["x-content-type-options"] == "nosniff"


def test_over_https_browsers_are_told_to_come_back_over_https_only() -> None:
    assert headers_of("/", scheme="https")["strict-transport-security"] == ["max-age=31536000"]
    assert headers_of("/static/dashboard.css", scheme="https")["strict-transport-security"]
    # Over plain http the header means nothing, and is not sent (a laptop's make run).
    assert "strict-transport-security" not in headers_of("/")
