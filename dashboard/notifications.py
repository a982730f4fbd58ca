"""The e-mail a task's owner gets when a task ends, if they asked for one."""

import logging

from sqlmodel import Session

from dashboard import crud, mail, runtime
from dashboard.models import TaskView, User
from dashboard.rendering import task_title
from dashboard.settings import get_settings

log = logging.getLogger(__name__)


def send_task_finished(task_id: str) -> str | None:
    """Sends the message; returns where it went, or None when there is nothing to send.

    Raises what smtplib raises (and OSError) for a failure worth retrying.
    """
    settings = get_settings()
    with Session(runtime.engine()) as session:
        row = crud.get_task(session, task_id=task_id)
        owner = session.get(User, row.owner_id) if row and row.owner_id else None
    if row is None or owner is None or not row.notify_email:
        log.warning("no e-mail for task %s: no such task, owner or request", task_id)
        return None
    view = TaskView.from_row(row)
    notice = mail.TaskNotice(
        task_id=view.id,
        title=task_title(view),
        state=view.state.value,
        error=view.error,
        runtime_seconds=view.runtime_seconds,
        finished_at=view.finished_at,
        url=f"{settings.base_url}/tasks/{view.id}",
    )
    message = mail.compose(notice, sender=settings.mail_from, recipient=owner.email)
    # An empty SMTP_URL (as compose passes an unset one) means the outbox, like no SMTP_URL.
    smtp_url = settings.smtp_url or None
    return mail.deliver(message, smtp_url=smtp_url, outbox=settings.outbox_dir)
