"""Idempotency keys: a start sent again with the same key names the first one's task.

Against a real Redis: the rules alone, then the API in-process (a real SQLite file, Celery
messages to that Redis with no worker to take them).
"""

import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from redis import Redis
from sqlmodel import Session, select

from dashboard import idempotency, migrate
from dashboard.app import create_app
from dashboard.db import make_engine
from dashboard.enqueue import BrokerUnavailable
from dashboard.models import Task, TaskState
from dashboard.redisserver import EmbeddedRedis
from dashboard.settings import Settings
from tests import aio
from tests.accounts import Account, make_user


class Starts:
    """A start that records each task id it was asked to start."""

    def __init__(self) -> None:
        self.started: list[str] = []

    def __call__(self, task_id: str) -> str:
        self.started.append(task_id)
        return task_id


def test_without_a_key_every_request_starts_a_task(redis: Redis) -> None:
    starts = Starts()
    first = idempotency.start_once(redis, 1, None, ["demo", {"seconds": 1}], starts)
    second = idempotency.start_once(redis, 1, None, ["demo", {"seconds": 1}], starts)
    assert first.task_id != second.task_id
    assert starts.started == [first.task_id, second.task_id]
    assert not first.replayed and not second.replayed


def test_the_same_key_and_request_names_the_first_task(redis: Redis) -> None:
    starts = Starts()
    first = idempotency.start_once(redis, 1, "k-1", ["demo", {"a": 1, "b": 2}], starts)
    # The same request, its fields in another order.
    again = idempotency.start_once(redis, 1, "k-1", ["demo", {"b": 2, "a": 1}], starts)
    assert again.task_id == first.task_id and again.replayed and not first.replayed
    assert starts.started == [first.task_id]
    assert 0 < redis.ttl(idempotency._name(1, "k-1")) <= idempotency.KEEP_SECONDS


def test_the_same_key_with_another_request_is_refused(redis: Redis) -> None:
    starts = Starts()
    idempotency.start_once(redis, 1, "k-1", ["demo", {"seconds": 1}], starts)
    with pytest.raises(idempotency.KeyReused):
        idempotency.start_once(redis, 1, "k-1", ["demo", {"seconds": 2}], starts)
    assert len(starts.started) == 1


def test_keys_are_each_users_own(redis: Redis) -> None:
    starts = Starts()
    ann = idempotency.start_once(redis, 1, "k-1", ["demo", {}], starts)
    bob = idempotency.start_once(redis, 2, "k-1", ["demo", {}], starts)
    assert ann.task_id != bob.task_id and not bob.replayed


def test_a_repeat_while_the_first_is_answered_is_told_to_wait(redis: Redis) -> None:
    refusals: list[Exception] = []

    def start_then_repeat(task_id: str) -> str:
        try:
            idempotency.start_once(redis, 1, "k-1", ["demo", {}], Starts())
        except idempotency.KeyInUse as refused:
            refusals.append(refused)
        return task_id

    idempotency.start_once(redis, 1, "k-1", ["demo", {}], start_then_repeat)
    assert len(refusals) == 1


def test_a_start_that_failed_leaves_the_key_free(redis: Redis) -> None:
    def refused(task_id: str) -> str:
        raise BrokerUnavailable("the task queue is unreachable", task_id)

    with pytest.raises(BrokerUnavailable):
        idempotency.start_once(redis, 1, "k-1", ["demo", {}], refused)
    starts = Starts()
    later = idempotency.start_once(redis, 1, "k-1", ["demo", {}], starts)
    assert starts.started == [later.task_id] and not later.replayed


# The API, in-process.


@pytest.fixture
def app_and_user(tmp_path: Path, redis_server: EmbeddedRedis) -> Iterator[tuple[object, Account]]:
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    migrate.upgrade(url)
    Redis.from_url(redis_server.url).flushdb()
    app = create_app(Settings(state_dir=tmp_path, redis_url=redis_server.url, database_url=url))
    yield app, make_user(app.state.services.engine)


def post_all(app: object, user: Account, requests: list[tuple[str, dict, dict]]) -> list:
    async def send() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            return [
                await client.post(path, json=body, headers={**user.bearer, **headers})
                for path, body, headers in requests
            ]

    return aio.run(send())


def rows(app: object) -> list[Task]:
    with Session(app.state.services.engine) as session:  # type: ignore[attr-defined]
        return list(session.exec(select(Task).order_by(Task.queued_at)))


def test_the_api_starts_once_per_key(app_and_user: tuple[object, Account]) -> None:
    app, user = app_and_user
    key = {"Idempotency-Key": str(uuid.uuid4())}
    first, again, unkeyed, other = post_all(
        app,
        user,
        [
            ("/api/tasks/demo", {"seconds": 1, "should_fail": False}, key),
            ("/api/tasks/demo", {"seconds": 1, "should_fail": False}, key),
            ("/api/tasks/demo", {"seconds": 1, "should_fail": False}, {}),
            ("/api/tasks/demo", {"seconds": 2, "should_fail": False}, key),
        ],
    )
    assert first.status_code == again.status_code == unkeyed.status_code == 202
    assert again.json()["id"] == first.json()["id"] != unkeyed.json()["id"]
    assert again.headers["idempotent-replayed"] == "true"
    assert "idempotent-replayed" not in first.headers
    assert other.status_code == 422
    assert other.json()["detail"][0]["loc"] == ["header", "Idempotency-Key"]
    assert [row.id for row in rows(app)] == [first.json()["id"], unkeyed.json()["id"]]


def test_a_retry_with_a_key_starts_one_new_task(app_and_user: tuple[object, Account]) -> None:
    app, user = app_and_user
    (failed,) = post_all(app, user, [("/api/tasks/pi", {"digits": 10}, {})])
    failed_id = failed.json()["id"]
    with Session(app.state.services.engine) as session:  # type: ignore[attr-defined]
        row = session.get(Task, failed_id)
        assert row is not None
        row.state = TaskState.FAILURE
        session.add(row)
        session.commit()
    key = {"Idempotency-Key": "retry-once"}
    path = f"/api/tasks/{failed_id}/retry"
    first, again = post_all(app, user, [(path, {}, key), (path, {}, key)])
    assert first.status_code == again.status_code == 202
    assert first.json()["id"] == again.json()["id"] != failed_id
    assert [row.retry_of for row in rows(app)] == [None, failed_id]


def test_a_key_that_is_no_key_is_a_422(app_and_user: tuple[object, Account]) -> None:
    app, user = app_and_user
    too_long = {"Idempotency-Key": "k" * (idempotency.MAX_LENGTH + 1)}
    unprintable = {"Idempotency-Key": "tab\there"}
    answers = post_all(
        app,
        user,
        [("/api/tasks/demo", {"seconds": 1}, too_long), ("/api/tasks/demo", {}, unprintable)],
    )
    for answer in answers:
        assert answer.status_code == 422
        assert answer.json()["detail"][0]["loc"] == ["header", "Idempotency-Key"]
    assert rows(app) == []


def test_redis_away_is_a_503_not_a_500(tmp_path: Path) -> None:
    from tests.processes import free_port

    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    migrate.upgrade(url)
    down = f"redis://127.0.0.1:{free_port()}/0"
    app = create_app(Settings(state_dir=tmp_path, redis_url=down, database_url=url))
    user = make_user(make_engine(url))
    key = {"Idempotency-Key": "k-1"}
    (answer,) = post_all(app, user, [("/api/tasks/demo", {"seconds": 1}, key)])
    assert answer.status_code == 503 and answer.headers["retry-after"] == "5"
    assert "unreachable" in answer.json()["detail"]
    assert rows(app) == []
