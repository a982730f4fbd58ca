"""A web process on a PostgreSQL database one migration behind its code: 503 to try again,
not a 500 with a traceback per request (operator probe). Only on PostgreSQL: SQLite says
"no such table" as an error that was a 503 already."""

import os
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from alembic import command

from dashboard import migrate
from dashboard.app import create_app
from dashboard.redisserver import EmbeddedRedis
from dashboard.settings import Settings
from tests import aio
from tests.services import DEFAULT_POSTGRES_URL, throwaway_database

pytestmark = pytest.mark.integration
ONE_BEHIND = "0006"  # the last migration adds api_token.expires_at


@pytest.fixture
def behind(database_url: str) -> Iterator[str]:
    if not database_url.startswith("postgresql"):
        pytest.skip("the schema test runs on PostgreSQL (TEST_DATABASE=postgresql)")
    with throwaway_database(os.environ.get("TEST_POSTGRES_URL", DEFAULT_POSTGRES_URL)) as url:
        command.upgrade(migrate.alembic_config(url), ONE_BEHIND)
        yield url


def ask(settings: Settings, method: str, path: str, body: dict[str, str]) -> httpx.Response:
    """The app in-process, without its lifespan (no event reader, no sampler)."""

    async def send() -> httpx.Response:
        transport = httpx.ASGITransport(app=create_app(settings))
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            return await client.request(method, path, json=body)

    return aio.run(send())


def test_a_request_needing_what_the_schema_lacks_is_a_503_to_try_again(
    behind: str, tmp_path: Path
) -> None:
    redis = EmbeddedRedis(tmp_path)
    try:
        settings = Settings(state_dir=tmp_path, redis_url=redis.start(), database_url=behind)
        credentials = {"email": "early@example.com", "password": "a long enough secret"}
        registered = ask(settings, "POST", "/api/users", credentials)  # no new column needed
        token = ask(settings, "POST", "/api/tokens", credentials)  # api_token.expires_at
    finally:
        redis.stop()
    assert registered.status_code == 201, registered.text
    assert token.status_code == 503, token.text
    assert token.headers["retry-after"]
    assert token.json() == {
        "detail": "the database is not migrated to this version yet; try again shortly"
    }
