"""Cancel a task that has not ended, and start a failed one again.

Cancelling records REVOKED in SQL first, so the page and the API say so at once and the
first final state wins: if the task still finishes, its result is not recorded, and a queued
message that arrives later is skipped (tasks.TrackedTask). Then the workers are told: a
running task's pool process is terminated. The broadcast is best effort; SQL is the truth.
"""

import logging

from kombu.exceptions import OperationalError
from redis.exceptions import RedisError
from sqlmodel import Session

from dashboard import crud, endings, logcontext, metrics, taskstarts
from dashboard.accounts import users
from dashboard.accounts.viewer import Viewer
from dashboard.endings import MAIL_TASK
from dashboard.enqueue import NewTask
from dashboard.events import append_task
from dashboard.jobs.demo import decide_failure
from dashboard.models import Task, TaskKind, TaskState, TaskView
from dashboard.services import Services

log = logging.getLogger(__name__)


class NotCancellable(Exception):
    """The task has ended already."""


class NotRetryable(Exception):
    """Only a task that failed, was cancelled or was lost can be tried again."""


def cancel(services: Services, session: Session, row: Task, by: Viewer) -> TaskView:
    """`session` is the request's, which read `row`: one connection per request (see
    taskviews.views_of)."""
    with logcontext.about_task(row.id, row.owner_id):
        return _cancel(services, session, row, by)


def _cancel(services: Services, session: Session, row: Task, by: Viewer) -> TaskView:
    # The read that found the row ends first: the write begins a transaction of its own, as
    # SQLite cannot turn a read into a write once someone else has written since it began.
    session.commit()
    ended = crud.record_final(
        session,
        task_id=row.id,
        kind=row.kind,
        params=row.params,
        state=TaskState.REVOKED,
        error=_who_cancelled(row, by),
    )
    view = None if ended is None else endings.view_with_owner(session, ended)
    if view is None:
        # Say how it ended: the row read before this write may be older (a cancel at once).
        now = crud.get_task(session, task_id=row.id, fresh=True)
        # Named: the notice may come after the row has moved out of sight (QA).
        ended_as = (now or row).state
        raise NotCancellable(f"{row.kind} task {row.id[:8]} has ended already ({ended_as})")
    log.info("task %s cancelled by user %s", row.id, by.id)
    metrics.count_ending(services.redis, view)
    _tell_the_workers(services, row.id)
    try:
        append_task(services.redis, view, max_length=services.settings.event_log_length)
        if view.notify_email:
            services.celery.send_task(MAIL_TASK, args=[row.id])
    except (RedisError, OperationalError) as error:
        log.warning("task %s cancelled, but not announced: %s", row.id, error)
    return view


def _tell_the_workers(services: Services, task_id: str) -> None:
    try:
        services.celery.control.revoke(task_id, terminate=True, signal="SIGTERM")
    except (OperationalError, OSError) as error:
        log.warning("could not tell the workers that %s is cancelled: %s", task_id, error)


def retry(services: Services, session: Session, row: Task, task_id: str | None = None) -> TaskView:
    """A new task (`task_id`, or a new id) with the same parameters, for the same owner,
    naming the one it repeats. `session` is the request's, which read `row`."""
    if TaskState(row.state) not in (TaskState.FAILURE, TaskState.REVOKED, TaskState.LOST):
        raise NotRetryable(f"only a failed, cancelled or lost task can be retried ({row.state})")
    params = dict(row.params)
    if row.kind == TaskKind.DEMO and params.get("chosen_at_random"):
        params["should_fail"] = decide_failure(None)  # the person asked for a coin toss
    new_task = NewTask(
        kind=row.kind,
        params=params,
        owner_id=row.owner_id,
        owner_email=users.email_of(session, user_id=row.owner_id),
        notify_email=row.notify_email,
        retry_of=row.id,
        task_id=task_id,
    )
    # Starting it writes through a session of its own: the request's gives its connection
    # back first (one connection per request, see taskviews.views_of).
    session.commit()
    view = taskstarts.start(services, new_task)
    with logcontext.about_task(row.id, row.owner_id):
        log.info("task %s retried as task %s", row.id, view.id)
    return view


def _who_cancelled(row: Task, by: Viewer) -> str:
    """Said to the owner, so an admin's address is not: the log names the user by id."""
    return "cancelled by its owner" if by.id == row.owner_id else "cancelled by an admin"
