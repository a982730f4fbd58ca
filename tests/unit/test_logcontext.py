"""Lines about a task carry its id and its owner's user id, in the worker and in the web."""

import logging
from collections.abc import Iterator
from typing import Any

import pytest
from celery import Celery
from redis import Redis
from sqlalchemy import Engine
from sqlmodel import Session

from dashboard import crud, logcontext, metrics, runtime
from dashboard.enqueue import NewTask, enqueue
from dashboard.logcontext import TaskContextFilter
from tests.accounts import make_user

log = logging.getLogger("dashboard.example")


class _Kept(logging.Handler):
    """Keeps records as a handler configured by dashboard.cli sees them: after the filter."""

    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []
        self.addFilter(TaskContextFilter())

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def lines() -> Iterator[list[logging.LogRecord]]:
    root, kept = logging.getLogger(), _Kept()
    level = root.level
    root.addHandler(kept)
    root.setLevel(logging.INFO)
    yield kept.records
    root.removeHandler(kept)
    root.setLevel(level)


def tags(record: logging.LogRecord) -> tuple[Any, Any]:
    return getattr(record, "task_id", None), getattr(record, "user", None)


def test_lines_inside_a_block_about_a_task_are_tagged(lines: list[logging.LogRecord]) -> None:
    with logcontext.about_task("t1", 5):
        log.info("outer")
        with logcontext.about_task("t2", 6):
            log.info("inner")
        log.info("outer again")
    log.info("after")
    assert [tags(line) for line in lines] == [("t1", 5), ("t2", 6), ("t1", 5), (None, None)]


def test_celery_lines_name_their_task_and_a_caller_naming_one_wins(
    lines: list[logging.LogRecord],
) -> None:
    # As Celery logs "Task ...[id] received" in the worker's main process.
    received = {"id": "t3", "name": "dashboard.pi"}
    log.info("Task %(name)s[%(id)s] received", received, extra={"data": received})
    with logcontext.about_task("t4", 1):
        log.info("about another", extra={"task_id": "t5"})
    assert tags(lines[0]) == ("t3", None)
    assert getattr(lines[1], "task_id", None) == "t5"


@pytest.fixture
def owned_task(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> tuple[str, int]:
    """A task row with an owner, in the database the worker code reads."""
    monkeypatch.setattr(runtime, "engine", lambda: engine)
    owner = make_user(engine)
    with Session(engine) as session:
        crud.create_task(session, task_id="t-owned", kind="demo", params={}, owner_id=owner.id)
    return "t-owned", owner.id


def test_a_worker_binding_holds_while_celery_runs_that_task(
    owned_task: tuple[str, int], lines: list[logging.LogRecord]
) -> None:
    task_id, owner = owned_task
    app = Celery("log-context", set_as_current=False)

    @app.task(bind=True)
    def tracked(self: Any) -> None:
        logcontext.bind_worker_task(self.request.id)
        log.info("running")

    @app.task
    def untracked() -> None:
        log.info("an e-mail, say")

    tracked.apply(task_id=task_id)  # run here, as a pool process runs it
    log.info("between tasks")
    untracked.apply(task_id="mail-1")
    mine = [line for line in lines if line.getMessage() == "running"]
    assert [tags(line) for line in mine] == [(task_id, owner)]
    for message in ("between tasks", "an e-mail, say"):
        (line,) = [line for line in lines if line.getMessage() == message]
        assert tags(line) == (None, None), "a binding left over from an earlier task"


def test_an_unreadable_owner_leaves_the_user_out_and_fails_nothing(
    monkeypatch: pytest.MonkeyPatch, lines: list[logging.LogRecord]
) -> None:
    def database_away() -> Engine:
        raise ConnectionError("database away")

    monkeypatch.setattr(runtime, "engine", database_away)
    app = Celery("log-context", set_as_current=False)

    @app.task(bind=True)
    def tracked(self: Any) -> None:
        logcontext.bind_worker_task(self.request.id)
        log.info("running")

    tracked.apply(task_id="t-unknown-owner")
    warning = next(line for line in lines if line.levelno == logging.WARNING)
    assert warning.getMessage().startswith("owner of task t-unknown-owner unknown")
    assert tags(warning) == ("t-unknown-owner", None)
    (running,) = [line for line in lines if line.getMessage() == "running"]
    assert tags(running) == ("t-unknown-owner", None)


class _Broker:
    def __init__(self) -> None:
        self.sent: list[str] = []

    def send_task(self, name: str, **_: Any) -> None:
        self.sent.append(name)


def test_the_webs_line_about_a_submission_names_the_task_and_its_owner(
    engine: Engine, redis: Redis, lines: list[logging.LogRecord]
) -> None:
    owner = make_user(engine)
    new_task = NewTask(kind="demo", params={"seconds": 1}, owner_id=owner.id, owner_email=None)
    broker: Any = _Broker()
    view = enqueue(new_task, engine=engine, redis=redis, celery_app=broker, event_log_length=100)
    assert broker.sent == ["dashboard.demo"]
    (queued,) = [line for line in lines if "queued" in line.getMessage()]
    assert tags(queued) == (view.id, owner.id)
    assert redis.hget(metrics.SUBMITTED_KEY, "demo") == b"1"
