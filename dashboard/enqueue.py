"""Starting a task: the row, the event and the Celery message, in that order.

The row comes first, so a worker that picks the message up at once always finds it, and the
task id is the same in SQL, in the event log and in Celery. If Redis or the broker refuses
the event or the message, the row is closed as FAILURE with the reason instead of staying
QUEUED forever, and the caller gets BrokerUnavailable (a 503, never a 500).
"""

import contextlib
import logging
import uuid
from dataclasses import dataclass
from typing import Any

from celery import Celery
from kombu.exceptions import OperationalError
from redis import Redis
from redis.exceptions import RedisError
from sqlalchemy import Engine
from sqlmodel import Session

from dashboard import crud, logcontext, metrics
from dashboard.events import add_task, append_task
from dashboard.models import TaskState, TaskView
from dashboard.taskrequest import OWNER_HEADER

log = logging.getLogger(__name__)


class BrokerUnavailable(RuntimeError):
    """The task could not be queued; its row (`task_id`, ended FAILURE) records why."""

    def __init__(self, message: str, task_id: str) -> None:
        super().__init__(message)
        self.task_id = task_id


@dataclass(frozen=True)
class NewTask:
    kind: str
    params: dict[str, Any]
    owner_id: int | None
    owner_email: str | None
    notify_email: bool = False
    retry_of: str | None = None
    task_id: str | None = None  # None: a new one (an idempotency key names its own first)


def enqueue(
    new_task: NewTask, *, engine: Engine, redis: Redis, celery_app: Celery, event_log_length: int
) -> TaskView:
    task_id = new_task.task_id or str(uuid.uuid4())
    with logcontext.about_task(task_id, new_task.owner_id):
        view = _insert(engine, task_id, new_task)
        try:
            _announce(redis, view, event_log_length)
            celery_app.send_task(
                f"dashboard.{new_task.kind}",
                kwargs=new_task.params,
                task_id=task_id,
                headers={OWNER_HEADER: new_task.owner_id},  # for the worker's log lines
            )
        except (OperationalError, RedisError) as error:
            log.warning("task %s could not be queued: %s", task_id, error)
            _record_refusal(engine, redis, view, event_log_length, error)
            message = f"the task queue is unreachable: {error}"
            raise BrokerUnavailable(message, task_id) from error
        log.info("%s task %s queued with %s", new_task.kind, task_id, new_task.params)
    return view


def _announce(redis: Redis, view: TaskView, event_log_length: int) -> None:
    """The event and the count for /metrics, in one round trip."""
    with redis.pipeline(transaction=False) as pipe:
        metrics.add_submitted(pipe, view.kind)
        add_task(pipe, view, max_length=event_log_length)
        pipe.execute()


def _insert(engine: Engine, task_id: str, new_task: NewTask) -> TaskView:
    with Session(engine, expire_on_commit=False) as session:
        row = crud.create_task(
            session,
            task_id=task_id,
            kind=new_task.kind,
            params=new_task.params,
            owner_id=new_task.owner_id,
            notify_email=new_task.notify_email,
            retry_of=new_task.retry_of,
        )
    return TaskView.from_row(row, owner=new_task.owner_email)


def _record_refusal(
    engine: Engine, redis: Redis, view: TaskView, event_log_length: int, error: Exception
) -> None:
    with Session(engine, expire_on_commit=False) as session:
        row = crud.record_final(
            session,
            task_id=view.id,
            kind=view.kind,
            params=view.params,
            state=TaskState.FAILURE,
            error=f"could not be queued: {error}",
        )
    if row is not None:
        # Redis may be what is down: the row says what happened either way.
        ended = TaskView.from_row(row, owner=view.owner)
        metrics.count_ending(redis, ended)
        with contextlib.suppress(RedisError):
            append_task(redis, ended, max_length=event_log_length)
