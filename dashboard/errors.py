"""Error answers: a clear status and reason, never a bare 500 for a known failure.

Who is refused gets what suits them: an API client a JSON body (401 with a Bearer challenge),
a browser the login page (303, or HX-Redirect for an htmx request, which cannot follow a
redirect into a region of the page).
"""

import logging
import math
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any
from urllib.parse import quote, urlsplit

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from sqlalchemy.exc import ProgrammingError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.formparsers import MultiPartException

from dashboard.accounts.viewer import CsrfRefused, LoginRequired
from dashboard.deps import viewer_by_cookie
from dashboard.enqueue import BrokerUnavailable
from dashboard.quotas import LimitReached
from dashboard.retrying import DATABASE_UNREACHABLE, REDIS_UNREACHABLE
from dashboard.securityheaders import header_dict
from dashboard.storabletext import printable
from dashboard.submissions import readable

log = logging.getLogger(__name__)
# Failures that leave an error page without its viewer rather than fail it too.
PAGE_WITHOUT_VIEWER: tuple[type[Exception], ...] = (*DATABASE_UNREACHABLE, PoolTimeout)
# How soon to try again when the queue or the database cannot answer (503).
RETRY_AFTER_SECONDS = 5
# How soon to ask again past a user's limit (tasks, streams): a guess, as nobody knows when
# tasks end, but one a client can follow.
LIMIT_RETRY_AFTER_SECONDS = 30
DATABASE_AWAY = "the database is unavailable at the moment; try again shortly"
REDIS_AWAY = "the task queue is unreachable at the moment; try again shortly"
# Paths whose callers are programs (or EventSource), which a redirect to a form would not help.
MACHINE_PREFIXES = ("/api/", "/events", "/fragments/", "/openapi.json", "/metrics")


async def _broker_unavailable(_request: Request, error: Exception) -> JSONResponse:
    """With the id of the row that records the refusal (it is in the Finished list as FAILURE,
    saying why): a client can tell it from the tasks it did start."""
    assert isinstance(error, BrokerUnavailable)
    body = {"detail": str(error), "id": error.task_id}
    headers = {"Retry-After": str(RETRY_AFTER_SECONDS)}
    return JSONResponse(body, status_code=503, headers=headers)


def _unavailable(what: str, detail: str) -> Callable[[Request, Exception], Awaitable[Response]]:
    """A 503 to try again, not a 500, for a service that cannot answer: the database (away,
    locked past its busy timeout, or its pool dry: a probe got a bare 500 after 30 s of SQLite
    held locked by another program), or Redis (the queue, the event log, the login limits)."""

    async def answer(request: Request, error: Exception) -> Response:
        log.warning("%s unavailable for %s %s: %s", what, request.method, request.url.path, error)
        headers = {"Retry-After": str(RETRY_AFTER_SECONDS)}
        return await _http_error(request, HTTPException(503, detail=detail, headers=headers))

    return answer


# PostgreSQL's undefined_table and undefined_column: a table or column this code has and the
# database not yet (a replica started before `dashboard migrate`, or an older schema). SQLite
# says "no such table" as an OperationalError, a 503 already.
SCHEMA_BEHIND_STATES = frozenset({"42P01", "42703"})


async def _programming_error(request: Request, error: Exception) -> Response:
    """A schema behind this code is a 503 to try again once migrated (operator probe: a 500
    with a traceback per request); any other programming error stays a 500."""
    if getattr(getattr(error, "orig", None), "sqlstate", None) not in SCHEMA_BEHIND_STATES:
        raise error
    return await _not_migrated(request, error)


_not_migrated = _unavailable(
    "database schema", "the database is not migrated to this version yet; try again shortly"
)


async def _limit_reached(request: Request, error: Exception) -> Response:
    """Past one of a user's limits (dashboard.quotas): 429, saying what to do."""
    headers = {"Retry-After": str(LIMIT_RETRY_AFTER_SECONDS)}
    return await _http_error(request, HTTPException(429, detail=str(error), headers=headers))


async def _login_required(request: Request, error: Exception) -> Response:
    reason = error.reason if isinstance(error, LoginRequired) else str(error)
    if request.headers.get("HX-Request") == "true":
        page = request.headers.get("HX-Current-URL") or "/"
        return Response(status_code=401, headers={"HX-Redirect": login_url(page)})
    if request.url.path.startswith(MACHINE_PREFIXES):
        return JSONResponse(
            {"detail": reason}, status_code=401, headers={"WWW-Authenticate": "Bearer"}
        )
    # Back to where a page was asked for; a form sent (a stale "log out", say) goes home: its
    # address answers only a POST, which the browser would not repeat after logging in.
    back_to = str(request.url) if request.method in ("GET", "HEAD") else "/"
    return RedirectResponse(login_url(back_to), status_code=303)


# Fields whose value an error answer never repeats.
SECRET_FIELDS = frozenset({"password"})


async def _invalid_request(request: Request, error: Exception) -> Response:
    """FastAPI's 422, but one that survives an input of 1e999: JSON has no infinity, and
    echoing it back would turn a clear 422 into a 500. A person who followed a link with a bad
    value in it (an old bookmark, a hand-edited address) gets a page naming each field."""
    assert isinstance(error, RequestValidationError)
    if _wants_page(request):
        reasons = [(_field_name(item["loc"]), readable(item)) for item in error.errors()]
        return _error_page(request, 422, None, reasons=reasons)
    if _body_not_sent_as_json(request, error.errors()):
        sent = request.headers.get("content-type") or "none"
        detail = f"send the body as JSON, with Content-Type: application/json (it said {sent})"
        return JSONResponse({"detail": detail}, status_code=415)
    errors = [
        {**item, "input": _cut(item["input"])} if "input" in item else item
        for item in error.errors()
    ]
    detail = _sendable(jsonable_encoder(_without_secrets(errors)))
    return JSONResponse({"detail": detail}, status_code=422)


# What FastAPI says of a JSON route's body that it did not read as JSON: the raw text or
# bytes are not an object (curl -d sends a form; a script may say text/plain).
NOT_AN_OBJECT = frozenset({"model_attributes_type", "dict_type"})


def _body_not_sent_as_json(request: Request, errors: Sequence[Any]) -> bool:
    """A 415 says what to change; "Input should be a valid dictionary" did not (API probe)."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    said_json = kind == "application/json" or kind.endswith("+json")
    body_refused = any(
        tuple(item["loc"]) == ("body",) and item["type"] in NOT_AN_OBJECT for item in errors
    )
    return body_refused and not said_json


# How deep an input is repeated in a 422: JSON that Python reads may be nested ~990 deep, and
# copying that back (jsonable_encoder, _sendable) would run out of stack: a 500.
ECHO_DEPTH = 8
CUT = "…"


def _cut(value: Any, depth: int = 0) -> Any:
    if isinstance(value, bytes):  # a body that is not UTF-8: jsonable_encoder would raise
        return value.decode(errors="replace")
    if not isinstance(value, dict | list):
        return value
    if depth >= ECHO_DEPTH:
        return CUT
    if isinstance(value, list):
        return [_cut(item, depth + 1) for item in value]
    return {key: _cut(item, depth + 1) for key, item in value.items()}


def _without_secrets(errors: Sequence[Any]) -> list[Any]:
    """No password is echoed back, whether its own field's error or a body's that holds it
    (a dict, or JSON sent as a form or inside a list): clients and proxies log 422 bodies."""
    return [
        {key: value for key, value in item.items() if key != "input"}
        if _holds_secret(item)
        else item
        for item in errors
    ]


def _holds_secret(item: dict[str, Any]) -> bool:
    named = {str(part) for part in item["loc"]}
    given = item.get("input")
    return bool(named & SECRET_FIELDS) or any(name in str(given) for name in SECRET_FIELDS)


def _field_name(location: Sequence[Any]) -> str:
    """`("query", "state")` is the field `state`, and so is `("query", "state", 0)`, the first
    of several values; a body's own location names no field."""
    names = [str(part) for part in location[1:] if not isinstance(part, int)]
    return ".".join(names) or str(location[0])


def _sendable(value: Any) -> Any:
    """What JSON can carry and UTF-8 can encode: an infinity as text, a lone surrogate (from a
    "\ud800" escape in the body) as U+FFFD."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, str):
        return printable(value)
    if isinstance(value, list):
        return [_sendable(item) for item in value]
    if isinstance(value, dict):
        return {_sendable(key): _sendable(item) for key, item in value.items()}
    return value


# What a program (or "Try it out" on /docs) that sent the page's cookie needs to hear instead.
API_CSRF_HINT = (
    "; a program sends a personal token from the account page (Authorization: Bearer) and"
    " needs none: on /docs, use Authorize"
)


async def _csrf_refused(request: Request, error: Exception) -> Response:
    reason = error.reason if isinstance(error, CsrfRefused) else CsrfRefused.reason
    if _wants_page(request):  # a form sent without script, from a page open since long ago
        return _error_page(request, 403, reason)
    hint = API_CSRF_HINT if request.url.path.startswith("/api/") else ""
    return JSONResponse({"detail": reason + hint}, status_code=403)


def _unreadable_body(error: HTTPException) -> RequestValidationError | None:
    """A body FastAPI or Starlette could not read at all gets a bare 400 ("There was an error
    parsing the body", "Too many fields"). It is bad input like any other: a 422 saying what
    is wrong with the body."""
    if error.status_code != 400:
        return None
    if isinstance(error.__context__, MultiPartException):  # raised while handling it
        message = f"the form could not be read: {error.__context__.message}"
        return RequestValidationError([{"type": "value_error", "loc": ("body",), "msg": message}])
    why = _why_json_failed(error.__cause__)
    if why is None:
        return None
    message = f"JSON could not be read: {why}"
    return RequestValidationError([{"type": "json_invalid", "loc": ("body",), "msg": message}])


def _why_json_failed(cause: BaseException | None) -> str | None:
    """json.loads raised something else than a JSONDecodeError: a RecursionError for nesting
    5,000 deep, a ValueError for a number of 5,000 digits or for bytes that are not UTF-8."""
    if isinstance(cause, RecursionError):
        return "it is nested too deeply"
    if isinstance(cause, UnicodeDecodeError):
        return "it is not UTF-8 text"
    if isinstance(cause, ValueError):
        return "a number in it has too many digits" if "digits" in str(cause) else str(cause)
    return None


async def _http_error(request: Request, error: Exception) -> Response:
    """A person following a link gets a page saying what went wrong; programs get JSON."""
    assert isinstance(error, HTTPException)
    unreadable = _unreadable_body(error)
    if unreadable is not None:
        return await _invalid_request(request, unreadable)
    if not _wants_page(request) or error.status_code < 400:
        return await http_exception_handler(request, error)
    await _recognise_viewer(request)
    return _error_page(request, error.status_code, error.detail, headers=error.headers)


async def _recognise_viewer(request: Request) -> None:
    """An address no route answers (404) read no session: look it up, so the error page's top
    bar keeps the account and log-out links. A database away leaves the page without them."""
    if hasattr(request.state, "viewer"):
        return
    try:
        request.state.viewer = await run_in_threadpool(viewer_by_cookie, request)
    except PAGE_WITHOUT_VIEWER:
        log.warning("the error page of %s shows no account: the database is away", request.url)


def _error_page(
    request: Request,
    status: int,
    detail: Any,
    *,
    reasons: list[tuple[str, str]] | None = None,
    headers: Mapping[str, str] | None = None,
) -> Response:
    templates = request.app.state.services.templates
    context = {"status": status, "detail": detail, "reasons": reasons or []}
    return templates.TemplateResponse(  # type: ignore[no-any-return]
        request, "error.html", context, status_code=status, headers=headers
    )


def _wants_page(request: Request) -> bool:
    """A browser following a link, not a program nor the page's own htmx requests."""
    return "text/html" in request.headers.get("accept", "") and not _for_machines(request)


def _for_machines(request: Request) -> bool:
    return request.headers.get("HX-Request") == "true" or request.url.path.startswith(
        MACHINE_PREFIXES
    )


def login_url(back_to: str) -> str:
    """The login page, asked to send the browser back to this page (its path only)."""
    parts = urlsplit(back_to)
    local = parts.path + (f"?{parts.query}" if parts.query else "")
    return f"/login?next={quote(local or '/', safe='')}"


async def _server_error(request: Request, error: Exception) -> Response:
    """A failure no handler knows: a plain 500 (the traceback goes to the log, as before),
    carrying the security headers every other answer has."""
    headers = header_dict(request.url.path)
    return JSONResponse({"detail": "internal server error"}, status_code=500, headers=headers)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(Exception, _server_error)
    app.add_exception_handler(BrokerUnavailable, _broker_unavailable)
    database = _unavailable(
        "database", "the database is unavailable at the moment; try again shortly"
    )
    for unavailable in (*DATABASE_UNREACHABLE, PoolTimeout):
        app.add_exception_handler(unavailable, database)
    redis = _unavailable("redis", REDIS_AWAY)
    for unavailable in REDIS_UNREACHABLE:
        app.add_exception_handler(unavailable, redis)
    app.add_exception_handler(ProgrammingError, _programming_error)
    app.add_exception_handler(LimitReached, _limit_reached)
    app.add_exception_handler(LoginRequired, _login_required)
    app.add_exception_handler(CsrfRefused, _csrf_refused)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _invalid_request)
