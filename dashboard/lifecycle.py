"""Records each task's start and end in SQL and in the event log.

The task calls these itself, inside the pool process that runs it (dashboard.tasks); the
`task_postrun` signal only lets go of the run claim afterwards. The view kept per running task
is what progress events are built from, so a progress tick costs no database query.
"""

import logging
from datetime import datetime
from typing import Any, TypeVar

from celery import Task as CeleryTask
from celery.exceptions import BackendStoreError, Ignore
from celery.signals import task_postrun, worker_process_init
from pydantic import BaseModel
from sqlmodel import Session

from dashboard import crud, endings, runguard, runtime
from dashboard.models import Progress, TaskKind, TaskState, TaskView, utcnow
from dashboard.retrying import (
    DATABASE_UNREACHABLE,
    REDIS_NOT_WRITTEN,
    through_database_outages,
    through_redis_outages,
)
from dashboard.settings import get_settings

log = logging.getLogger(__name__)
PROGRESS_NOT_STORED: tuple[type[Exception], ...] = (BackendStoreError, *REDIS_NOT_WRITTEN)
AnyTask = CeleryTask[Any, Any]
T = TypeVar("T")
TASK_PREFIX = "dashboard."
_running: dict[str, TaskView] = {}


KINDS = frozenset(kind.value for kind in TaskKind)


def kind_of(task: AnyTask) -> str | None:
    """The kind of a task the dashboard tracks; None for others (e-mails, the file sweep)."""
    kind = (task.name or "").removeprefix(TASK_PREFIX)
    return kind if kind in KINDS else None


@worker_process_init.connect
def _fresh_connections(**_: Any) -> None:
    runtime.reset_after_fork()


def worker_name(task: AnyTask) -> str:
    return task.request.hostname or "unknown"


def begin(task_id: str, task: AnyTask, kwargs: dict[str, Any]) -> bool:
    """Records this run's start, called by the task once it holds its run claim (see
    dashboard.tasks). False when the task is not to run: it has ended already, or its worker
    died under it too often (it is then recorded as LOST, saying so). One conditional upsert
    both decides and counts the start, so the usual run reads nothing first."""
    kind = kind_of(task)
    if kind is None:
        return True
    worker, limit = worker_name(task), get_settings().task_max_attempts

    def write() -> TaskView | None:
        with Session(runtime.engine(), expire_on_commit=False) as session:
            row = crud.mark_started(
                session,
                task_id=task_id,
                kind=kind,
                params=dict(kwargs),
                worker=worker,
                max_attempts=limit,
            )
            if row is None:
                _give_up_if_exhausted(session, task_id)
                return None
            return endings.view_with_owner(session, row)

    view = through_database_outages(write, f"recording the start of {task_id}")
    if view is None:
        return False
    _running[task_id] = view
    endings.publish(view)
    return True


def _give_up_if_exhausted(session: Session, task_id: str) -> None:
    """The start was refused: either the task has ended (nothing to do) or it has been started
    as often as allowed, each run dying with its worker; then it ends as LOST."""
    row = crud.get_task(session, task_id=task_id)
    if row is None or TaskState(row.state).is_final:
        return
    reason = f"its worker died under it {row.attempts} times; it is not run again"
    endings.close_as_lost(session, row, reason)


class EndRecord(BaseModel):
    """A run's end as SQL records it; a message carries it when the worker could not."""

    task_id: str
    kind: str
    params: dict[str, Any]
    state: TaskState
    result: dict[str, Any] | None
    error: str | None
    finished_at: datetime


class EndNotRecorded(Exception):
    """The database stayed away through the retries; `record` is the end still to write."""

    def __init__(self, record: EndRecord, cause: Exception) -> None:
        super().__init__(f"the end of {record.task_id} is not recorded: {cause}")
        self.record = record


def record_end(
    task_id: str, task: AnyTask, kwargs: dict[str, Any], retval: Any, *, succeeded: bool
) -> None:
    """Called by the task itself as its body returns or raises (see dashboard.tasks), so the
    end is in SQL before Celery counts the task done: a process killed in between dies with
    its task unfinished, and the task is handed back and runs again. EndNotRecorded when the
    database is away past the retries."""
    kind = kind_of(task)
    if kind is None:
        return
    record = EndRecord(
        task_id=task_id,
        kind=kind,
        params=dict(kwargs),
        state=TaskState.SUCCESS if succeeded else TaskState.FAILURE,
        result=retval if succeeded and isinstance(retval, dict) else None,
        error=None if succeeded else describe_error(retval),
        finished_at=utcnow(),
    )
    try:
        write_end(record)
    except DATABASE_UNREACHABLE as error:
        raise EndNotRecorded(record, error) from error


def write_end(record: EndRecord, *, late: bool = False) -> None:
    """Upserts the end (retrying through a short outage), then tells the pages. `late`: an
    end carried by a message because its run could not write it; it replaces a LOST."""

    def write() -> TaskView | None:
        with Session(runtime.engine(), expire_on_commit=False) as session:
            row = crud.record_final(session, **record.model_dump(), replaces_lost=late)
            return None if row is None else endings.view_with_owner(session, row)

    view = through_database_outages(write, f"recording the end of {record.task_id}")
    if view is not None:
        endings.publish_ending(view)


@task_postrun.connect
def _let_go(task_id: str, **_: Any) -> None:
    """After the end is recorded (or the run was skipped or retried): another delivery may run
    the task now, and will find it final and skip it."""
    _running.pop(task_id, None)
    through_redis_outages(lambda: runguard.guard.release(task_id), f"releasing {task_id}")


def describe_error(error: Any) -> str:
    if isinstance(error, BaseException):
        text = str(error)
        return f"{type(error).__name__}: {text}" if text else type(error).__name__
    return str(error)


class RunSuperseded(Ignore):
    """Another run took this run's lapsed claim (this one was frozen past it): this run stops
    here, without recording an end, and that one runs the task to its end."""


def report_progress(task: AnyTask, percent: float, intermediate: str) -> None:
    """One throttled progress tick: a Celery PROGRESS state and an event. Where a run that
    has been superseded stops (dashboard.runguard)."""
    task_id = task.request.id or ""
    if runguard.guard.superseded(task_id):
        raise RunSuperseded(f"task {task_id}: another run holds it now; this run stops")
    progress = Progress(percent=round(percent, 2), intermediate=intermediate)
    try:
        task.update_state(state=TaskState.PROGRESS.value, meta=progress.model_dump())
    except PROGRESS_NOT_STORED as error:
        # Celery gives up storing it after its retries (about 100 s of Redis away), or Redis
        # refuses it (its disk full). A tick is news, not the work: the task goes on (probes
        # saw such ticks fail tasks that had done their work, or had nothing to do with
        # the disk), and its next tick or its end says where it stands.
        log.warning("progress of %s not stored: %s", task_id, error)
        return
    view = _running.get(task_id)
    if view is None:
        return
    view = view.model_copy(update={"state": TaskState.PROGRESS, "progress": progress})
    _running[task_id] = view
    try:
        runtime.publish_progress(view)  # not once the task has been ended elsewhere
    except REDIS_NOT_WRITTEN as error:  # the next tick tells it, and more
        log.warning("progress of %s not published: %s", task_id, error)
