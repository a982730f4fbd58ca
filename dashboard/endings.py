"""What follows a change to a task's row in the worker: the event, and the e-mail if asked;
for a final state also its count for /metrics (dashboard.metrics).

Events carry the owner's e-mail, which an admin's "all users" view shows. Sending the e-mail
is a task of its own, queued after the final state is recorded, so a mail server that is
down delays the message (it is retried) and never changes how the task itself ended.
"""

import logging

from kombu.exceptions import OperationalError
from sqlmodel import Session

from dashboard import crud, events, metrics, retrying, runtime
from dashboard.accounts import users
from dashboard.models import Progress, Task, TaskState, TaskView
from dashboard.settings import get_settings

log = logging.getLogger(__name__)
MAIL_TASK = "dashboard.mail.task_finished"


def view_with_owner(session: Session, row: Task, progress: Progress | None = None) -> TaskView:
    return TaskView.from_row(row, progress, users.email_of(session, user_id=row.owner_id))


def announce(session: Session, row: Task) -> TaskView:
    """Publishes the row's current view."""
    view = view_with_owner(session, row)
    publish(view)
    return view


def announce_ending(session: Session, row: Task) -> TaskView:
    """Publishes a task's final view, counts it and queues the e-mail its owner asked for."""
    view = view_with_owner(session, row)
    if TaskState(row.state).is_final:
        publish_ending(view)
    else:
        publish(view)
    return view


def close_as_lost(session: Session, row: Task, reason: str) -> Task | None:
    """Ends an active task as LOST, saying why; None when it had ended already."""
    lost = crud.record_final(
        session,
        task_id=row.id,
        kind=row.kind,
        params=row.params,
        state=TaskState.LOST,
        error=reason,
    )
    if lost is not None:
        announce_ending(session, lost)
    return lost


def publish(view: TaskView) -> None:
    """Into the event log; a Redis restart delays the event, it does not lose it."""
    retrying.through_redis_outages(lambda: runtime.publish_task(view), f"announcing {view.id}")


def publish_ending(view: TaskView) -> None:
    """Call once per task, where its final state is first recorded: the event and the count
    for /metrics go in one round trip."""
    retrying.through_redis_outages(lambda: _append_ending(view), f"announcing the end of {view.id}")
    if view.notify_email:
        queue_mail(view.id)


def _append_ending(view: TaskView) -> None:
    with runtime.redis().pipeline(transaction=True) as pipe:
        events.add_task(pipe, view, max_length=get_settings().event_log_length)
        metrics.add_ending(pipe, view)
        pipe.execute()


def queue_mail(task_id: str) -> None:
    from dashboard.worker import app

    try:
        app.send_task(MAIL_TASK, args=[task_id])
    except OperationalError as error:  # the task has ended either way; the row says how
        log.error("could not queue the e-mail about task %s: %s", task_id, error)
