"""A task that cannot be queued ends FAILURE with the reason: a 503 and a message, never a 500.

The app runs in-process against a real SQLite file; what is down (Redis, or the broker) is a
port nothing listens on.
"""

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from celery import Celery
from sqlmodel import Session, select

from dashboard import migrate
from dashboard.app import create_app
from dashboard.db import make_engine
from dashboard.models import Task
from dashboard.redisserver import EmbeddedRedis
from dashboard.settings import Settings
from dashboard.worker import celery_config
from tests import aio
from tests.accounts import make_user
from tests.processes import free_port


def post_both(settings: Settings) -> tuple[httpx.Response, httpx.Response]:
    app = create_app(settings)
    # A Celery app of the test's own, so the process-wide one keeps its configuration.
    isolated = Celery("unqueueable", set_as_current=False)
    isolated.conf.update(celery_config(settings), broker_connection_max_retries=1)
    app.state.services.celery = isolated
    user = make_user(app.state.services.engine)

    async def post() -> tuple[httpx.Response, httpx.Response]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://test", cookies=user.cookies
        ) as client:
            page = await client.post(
                "/tasks/pi",
                data={"digits": "10", "method": "chudnovsky"},
                headers={**user.page_headers, "HX-Request": "true"},  # as the page sends it
            )
            api = await client.post("/api/tasks/demo", json={"seconds": 1}, headers=user.bearer)
            return page, api

    return aio.run(post())


def rows(database_url: str) -> list[Task]:
    engine = make_engine(database_url)
    with Session(engine) as session:
        found = list(session.exec(select(Task)))
    engine.dispose()
    return found


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    migrate.upgrade(url)
    return url


@pytest.fixture
def redis_url(tmp_path: Path) -> Iterator[str]:
    server = EmbeddedRedis(tmp_path / "redis-state")
    yield server.start()
    server.stop()


def assert_refused(page: httpx.Response, api: httpx.Response, database_url: str) -> None:
    assert page.status_code == 503 and "Not started: the task queue is unreachable" in page.text
    assert 'id="pi-form"' in page.text
    assert api.status_code == 503 and "unreachable" in api.json()["detail"]
    assert api.headers["retry-after"] == "5"
    recorded = rows(database_url)
    assert len(recorded) == 2
    # The API's answer names the row that records the refusal.
    assert api.json()["id"] in {row.id for row in recorded}
    assert all(row.state == "FAILURE" for row in recorded)
    assert all(row.error and row.error.startswith("could not be queued") for row in recorded)


def test_with_redis_down(tmp_path: Path, database_url: str) -> None:
    down = f"redis://127.0.0.1:{free_port()}/0"
    settings = Settings(state_dir=tmp_path, redis_url=down, database_url=database_url)
    assert_refused(*post_both(settings), database_url)


def test_with_the_broker_down(tmp_path: Path, database_url: str, redis_url: str) -> None:
    settings = Settings(
        state_dir=tmp_path,
        redis_url=redis_url,
        database_url=database_url,
        celery_broker_url=f"amqp://guest:guest@127.0.0.1:{free_port()}//",
    )
    assert_refused(*post_both(settings), database_url)
