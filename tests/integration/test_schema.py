"""schemathesis against the app's own /openapi.json: no 5xx, and no response off its schema.

Every operation is called with generated valid and invalid input as an admin (so every
route is reachable). Tasks it manages to start are cancelled at once: the generator likes
the largest inputs, and ten-million-row CSVs are not what this test is about.
"""

from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from redis import Redis
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance
from sqlalchemy import Engine

from dashboard.accounts.throttle import KEY_PREFIX, REGISTRATION_KEY_PREFIX
from tests.accounts import make_user

pytestmark = pytest.mark.integration
EXAMPLES_PER_OPERATION = 30
# Streams never end, so a generated request would wait forever.
NOT_GENERATED = {("GET", "/api/events")}
# Last, because a generated id may well be the test's own token.
LAST = ("DELETE", "/api/tokens/{token_id}")


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
        case.validate_response(response, checks=[not_a_server_error, response_schema_conformance])

    try:
        call()
    except Unsatisfiable:
        # An operation that takes no parameters and no body has nothing to break (negative).
        if mode is GenerationMode.POSITIVE:
            raise


def _cancel_if_started(response: Any, client: httpx.Client) -> None:
    if response.status_code == 202 and "id" in (response.json() or {}):
        client.post(f"/api/tasks/{response.json()['id']}/cancel")
