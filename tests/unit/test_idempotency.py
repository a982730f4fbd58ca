"""Idempotency keys: a start sent again with the same key names the first one's task.

Against a real Redis: the rules alone, then the API in-process (a real SQLite file, Celery
messages to that Redis with no worker to take them).
"""

import uuid
from pathlib import Path

import pytest
from redis import Redis
from sqlmodel import Session

from dashboard import idempotency
from dashboard.enqueue import BrokerUnavailable
from dashboard.models import Task, TaskState
from dashboard.redisserver import EmbeddedRedis
from tests.accounts import make_user
from tests.inprocess import Call, InProcessApp
from tests.processes import free_port


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
def app(tmp_path: Path, redis_server: EmbeddedRedis) -> InProcessApp:
    Redis.from_url(redis_server.url).flushdb()
    return InProcessApp(tmp_path, redis_server.url)


def demo(seconds: float, headers: dict[str, str]) -> Call:
    return ("POST", "/api/tasks/demo", {"seconds": seconds, "should_fail": False}, headers)


def test_the_api_starts_once_per_key(app: InProcessApp) -> None:
    user = make_user(app.engine)
    key = {"Idempotency-Key": str(uuid.uuid4())}
    first, again, unkeyed, other = app.send(
        user, [demo(1, key), demo(1, key), demo(1, {}), demo(2, key)]
    )
    assert first.status_code == again.status_code == unkeyed.status_code == 202
    assert again.json()["id"] == first.json()["id"] != unkeyed.json()["id"]
    assert again.headers["idempotent-replayed"] == "true"
    assert "idempotent-replayed" not in first.headers
    assert other.status_code == 422
    assert other.json()["detail"][0]["loc"] == ["header", "Idempotency-Key"]
    assert [row.id for row in app.rows()] == [first.json()["id"], unkeyed.json()["id"]]


def test_a_retry_with_a_key_starts_one_new_task(app: InProcessApp) -> None:
    user = make_user(app.engine)
    (failed,) = app.send(user, [("POST", "/api/tasks/pi", {"digits": 10}, {})])
    failed_id = failed.json()["id"]
    with Session(app.engine) as session:
        row = session.get(Task, failed_id)
        assert row is not None
        row.state = TaskState.FAILURE
        session.add(row)
        session.commit()
    retry: Call = ("POST", f"/api/tasks/{failed_id}/retry", {}, {"Idempotency-Key": "retry-once"})
    first, again = app.send(user, [retry, retry])
    assert first.status_code == again.status_code == 202
    assert first.json()["id"] == again.json()["id"] != failed_id
    assert [row.retry_of for row in app.rows()] == [None, failed_id]


def test_a_key_that_is_no_key_is_a_422(app: InProcessApp) -> None:
    user = make_user(app.engine)
    too_long = {"Idempotency-Key": "k" * (idempotency.MAX_LENGTH + 1)}
    unprintable = {"Idempotency-Key": "tab\there"}
    for answer in app.send(user, [demo(1, too_long), demo(1, unprintable)]):
        assert answer.status_code == 422
        assert answer.json()["detail"][0]["loc"] == ["header", "Idempotency-Key"]
    assert app.rows() == []


def test_redis_away_is_a_503_not_a_500(tmp_path: Path) -> None:
    app = InProcessApp(tmp_path, f"redis://127.0.0.1:{free_port()}/0")
    user = make_user(app.engine)
    (answer,) = app.send(user, [demo(1, {"Idempotency-Key": "k-1"})])
    assert answer.status_code == 503 and answer.headers["retry-after"] == "5"
    assert "unreachable" in answer.json()["detail"]
    assert app.rows() == []
