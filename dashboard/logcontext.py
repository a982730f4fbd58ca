"""Which task a log line is about: its id and its owner's user id, added to every record.

The worker binds the task a pool process is about to run as it starts (dashboard.tasks),
before it claims the run, so even the lines about a duplicate delivery say which task. The
web binds a task around its submission, cancel or retry. A logging filter on the handler
copies the binding onto each record as `task_id` and `user`, so any line logged meanwhile, by
any module, says which task and whose it is.

A worker's binding is not undone when its task ends; instead it counts only while Celery
is running that very task in this thread, so a later task (an e-mail, the file sweep) or the
pool's own lines between tasks never carry a stale id. Celery's own lines about a task
(received, succeeded, failed) name it in their `data`; those carry its id even where no
binding exists, such as the worker's main process, and the owner that the message's header
named (dashboard.taskrequest).
"""

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from dashboard import taskrequest

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TaskContext:
    task_id: str
    user: int | None
    # Bound by a worker: it holds while Celery runs this task (see the module docstring).
    in_celery_task: bool = False


_current: ContextVar[TaskContext | None] = ContextVar("dashboard_task_context", default=None)


def bind_worker_task(task_id: str, owner: int | None = None) -> None:
    """Tags the lines of the Celery task this thread runs now, until it ends, with its id and
    its owner's user id: the one its message names, or else the one its row names."""
    user = owner if owner is not None else _owner_of(task_id)
    _current.set(TaskContext(task_id, user, in_celery_task=True))


def _owner_of(task_id: str) -> int | None:
    # Imported here: only a worker asks, and the other processes' logging needs no SQL.
    from sqlmodel import Session

    from dashboard import crud, runtime

    try:
        with Session(runtime.engine()) as session:
            row = crud.get_task(session, task_id=task_id)
    except Exception as error:  # a tag on log lines is never worth failing the task for
        log.warning("owner of task %s unknown: %s", task_id, error, extra={"task_id": task_id})
        return None
    return None if row is None else row.owner_id


@contextmanager
def about_task(task_id: str, user: int | None) -> Iterator[None]:
    """Tags the lines logged inside the block."""
    token = _current.set(TaskContext(task_id, user))
    try:
        yield
    finally:
        _current.reset(token)


def current() -> TaskContext | None:
    context = _current.get()
    if context is not None and context.in_celery_task and _running_task_id() != context.task_id:
        return None  # left over from a task this thread ran earlier
    return context


def _running_task_id() -> str | None:
    # Imported here: only a worker asks, and the client and the supervisor need no Celery.
    from celery import current_task

    task: Any = current_task  # a proxy: falsy outside a task
    return str(task.request.id) if task else None


def _named_by_celery(record: logging.LogRecord) -> str | None:
    """Celery logs a task's receipt and end with `extra={"data": {"id": ...}}`."""
    data = getattr(record, "data", None)
    task_id = data.get("id") if isinstance(data, dict) else None
    return str(task_id) if task_id else None


class TaskContextFilter(logging.Filter):
    """Adds `task_id` and `user` to records about a task; lets every record through."""

    def filter(self, record: logging.LogRecord) -> bool:
        if hasattr(record, "task_id"):
            return True  # named by the caller (`extra`), which knows best
        context = current()
        if context is not None:
            record.task_id = context.task_id
            record.user = context.user
        elif task_id := _named_by_celery(record):
            record.task_id = task_id
            record.user = taskrequest.owner_noted(task_id)
        return True
