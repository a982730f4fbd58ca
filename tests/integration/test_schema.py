"""schemathesis against the app's own /openapi.json: no 5xx, and no response off its schema
(a status code it does not list included).

Every operation is called with generated valid and invalid input as an admin (so every
route is reachable). Tasks it manages to start are cancelled at once: the generator likes
the largest inputs, and ten-million-row CSVs are not what this test is about. What it never
meets (another user's task, a large body, parts of a file...) is asked for by hand and held
to the schema by the same checks.
"""

import re
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from redis import Redis
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from sqlalchemy import Engine

from dashboard.accounts.throttle import KEY_PREFIX, REGISTRATION_KEY_PREFIX
from tests.accounts import Account, make_user
from tests.processes import wait_until

pytestmark = pytest.mark.integration
EXAMPLES_PER_OPERATION = 30
# Streams never end, so a generated request would wait forever.
NOT_GENERATED = {("GET", "/api/events")}
# Last, because a generated id may well be the test's own token.
LAST = ("DELETE", "/api/tokens/{token_id}")
# Every answer: no 5xx, and its status code, media type, headers and body as documented.
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


def test_no_input_makes_the_api_fail_or_break_its_schema(
    web: str, worker: object, engine: Engine, redis_client: Redis
) -> None:
    admin = make_user(engine, admin=True)
    schema = schemathesis.openapi.from_url(f"{web}/openapi.json", headers=admin.bearer)
    operations = [result.ok() for result in schema.get_all_operations()]
    operations.sort(key=lambda operation: _key(operation) == LAST)
    try:
        with httpx.Client(base_url=web, headers=admin.bearer, timeout=30) as client:
            for operation in operations:
                if _key(operation) in NOT_GENERATED:
                    continue
                for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
                    _fuzz(operation, mode, admin.bearer, client)
    finally:
        # Generated logins failed by the dozen and registrations were made by the dozen: let
        # the other tests log in and register again.
        redis_client.delete(KEY_PREFIX + "127.0.0.1", REGISTRATION_KEY_PREFIX + "127.0.0.1")
    assert len(operations) >= 20


def _key(operation: Any) -> tuple[str, str]:
    return operation.method.upper(), operation.path


def _fuzz(
    operation: Any, mode: GenerationMode, headers: dict[str, str], client: httpx.Client
) -> None:
    """Valid input (positive) and input that breaks the schema on purpose (negative)."""

    @given(case=operation.as_strategy(mode))
    @settings(
        max_examples=EXAMPLES_PER_OPERATION,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def call(case: Any) -> None:
        response = case.call(headers=headers, timeout=30)
        _cancel_if_started(response, client)
        case.validate_response(response, checks=CHECKS)

    try:
        call()
    except Unsatisfiable:
        # An operation that takes no parameters and no body has nothing to break (negative).
        if mode is GenerationMode.POSITIVE:
            raise


def _cancel_if_started(response: Any, client: httpx.Client) -> None:
    if response.status_code == 202 and "id" in (response.json() or {}):
        client.post(f"/api/tasks/{response.json()['id']}/cancel")


Answer = tuple[str, str, int, httpx.Response]  # method, documented path, status, response


def test_answers_the_generator_never_meets_are_as_documented(
    web: str, worker: object, engine: Engine
) -> None:
    owner, stranger = make_user(engine), make_user(engine)
    schema = schemathesis.openapi.from_url(f"{web}/openapi.json", headers=owner.bearer)
    with _client(web, owner) as mine, _client(web, stranger) as theirs:
        pi = mine.post("/api/tasks/pi", json={"digits": 50}).json()["id"]
        wait_until(lambda: _state(mine, pi) == "SUCCESS", "the pi task to succeed", 60)
        answers = [*_refusals(mine, theirs, pi), *_parts_of_a_file(mine, pi)]
        answers.append(_file_not_ready(mine))
        with httpx.Client(base_url=web, cookies=owner.cookies, timeout=30) as no_csrf:
            answers.append(("POST", "/api/tasks/pi", 403, no_csrf.post("/api/tasks/pi", json={})))
        with mine.stream("GET", "/api/events") as stream:
            assert stream.status_code == 200
            assert stream.headers["content-type"].startswith("text/event-stream")
    for method, path, status, response in answers:
        assert response.status_code == status, (method, path, response.text)
        _case(schema, method, path, response).validate_response(response, checks=CHECKS)


def _case(schema: Any, method: str, path: str, response: httpx.Response) -> Any:
    """The operation's case for a request sent by hand, its path's values read back."""
    pattern = re.sub(r"\\{(\w+)\\}", r"(?P<\1>[^/]+)", re.escape(path))
    sent = re.fullmatch(pattern, response.request.url.path)
    assert sent is not None, (path, response.request.url)
    return schema[path][method].Case(path_parameters=sent.groupdict())


def _client(web: str, user: Account) -> httpx.Client:
    return httpx.Client(base_url=web, headers=user.bearer, timeout=30)


def _state(client: httpx.Client, task_id: str) -> str:
    return str(client.get(f"/api/tasks/{task_id}").json()["state"])


def _refusals(mine: httpx.Client, theirs: httpx.Client, pi: str) -> list[Answer]:
    large = {"digits": 10, "padding": "x" * 70_000}
    return [
        ("GET", "/api/tasks/{task_id}", 403, theirs.get(f"/api/tasks/{pi}")),
        ("GET", "/api/tasks/{task_id}/file", 403, theirs.get(f"/api/tasks/{pi}/file")),
        ("GET", "/api/tasks", 403, theirs.get("/api/tasks", params={"scope": "all"})),
        ("GET", "/api/events", 403, theirs.get("/api/events", params={"scope": "all"})),
        ("GET", "/api/processes", 403, theirs.get("/api/processes")),
        ("GET", "/api/me", 401, httpx.get(mine.base_url.join("/api/me"))),
        ("POST", "/api/tasks/pi", 413, mine.post("/api/tasks/pi", json=large)),
        ("POST", "/api/tasks/pi", 415, mine.post("/api/tasks/pi", content='{"digits": 10}')),
        ("DELETE", "/api/tokens/{token_id}", 404, mine.delete("/api/tokens/2147483647")),
    ]


def _parts_of_a_file(mine: httpx.Client, pi: str) -> list[Answer]:
    path = f"/api/tasks/{pi}/digits.txt"

    def asked(ranges: str) -> httpx.Response:
        return mine.get(path, headers={"Range": ranges})

    documented = "/api/tasks/{task_id}/digits.txt"
    return [
        ("GET", documented, 200, mine.get(path)),
        ("GET", documented, 206, asked("bytes=0-9")),
        ("GET", documented, 206, asked("bytes=0-1,5-6")),
        ("GET", documented, 416, asked("bytes=100000-")),
        ("GET", documented, 400, asked("lines=1-2")),
    ]


def _file_not_ready(mine: httpx.Client) -> Answer:
    """A CSV long in the making, asked for at once, then cancelled."""
    task_id = mine.post("/api/tasks/csv", json={"rows": 5_000_000}).json()["id"]
    early = mine.get(f"/api/tasks/{task_id}/file")
    mine.post(f"/api/tasks/{task_id}/cancel")
    return "GET", "/api/tasks/{task_id}/file", 409, early
