"""The e-mail a task's owner gets when a task ends, if they asked for one.

At most MAIL_MAX_PER_HOUR such e-mails go to one user in an hour: an address is not confirmed
at registration, so without a limit anyone could register someone else's address and have the
server mail it once per task (a security probe did). A task's e-mail is counted once, so a
send retried after a mail server's refusal is not counted again, nor refused half-way.
"""

import logging

from redis import Redis
from redis.exceptions import RedisError
from sqlmodel import Session

from dashboard import crud, mail, runtime
from dashboard.models import TaskView, User
from dashboard.rendering import task_title
from dashboard.settings import get_settings

log = logging.getLogger(__name__)
MAIL_WINDOW_SECONDS = 3600
SENT_KEY_PREFIX = "dashboard:mails-sent:"  # per user: e-mails allowed in the current hour
ALLOWED_KEY_PREFIX = "dashboard:mail-allowed:"  # per task: the decision, kept for its retries
# KEYS: the task's decision, the user's count; ARGV: the window, the limit. 1: send it.
ALLOW_SCRIPT = """
local decided = redis.call('GET', KEYS[1])
if decided then return tonumber(decided) end
redis.call('SET', KEYS[2], 0, 'EX', ARGV[1], 'NX')
local allowed = 0
if redis.call('INCR', KEYS[2]) <= tonumber(ARGV[2]) then allowed = 1 end
redis.call('SET', KEYS[1], allowed, 'EX', ARGV[1])
return allowed
"""


def may_send(redis: Redis, *, owner_id: int, task_id: str, limit: int) -> bool:
    """Whether this task's e-mail is within its owner's hourly limit (asked again for the same
    task, the same answer). With Redis away, yes: the send needs Redis's queue anyway."""
    keys = [ALLOWED_KEY_PREFIX + task_id, f"{SENT_KEY_PREFIX}{owner_id}"]
    try:
        return bool(redis.eval(ALLOW_SCRIPT, len(keys), *keys, MAIL_WINDOW_SECONDS, limit))
    except RedisError as error:
        log.warning("e-mail limit unavailable: %s", error)
        return True


def send_task_finished(task_id: str) -> str | None:
    """Sends the message; returns where it went, or None when there is nothing to send.

    Raises what smtplib raises (and OSError) for a failure worth retrying.
    """
    settings = get_settings()
    with Session(runtime.engine()) as session:
        row = crud.get_task(session, task_id=task_id)
        owner = session.get(User, row.owner_id) if row and row.owner_id else None
    if row is None or owner is None or owner.id is None or not row.notify_email:
        log.warning("no e-mail for task %s: no such task, owner or request", task_id)
        return None
    limit = settings.mail_max_per_hour
    if not may_send(runtime.redis(), owner_id=owner.id, task_id=task_id, limit=limit):
        log.warning("no e-mail for task %s: its owner has had %d this hour", task_id, limit)
        return None
    message = mail.compose(
        _notice(TaskView.from_row(row), settings.base_url),
        sender=settings.mail_from,
        recipient=owner.email,
    )
    # An empty SMTP_URL (as compose passes an unset one) means the outbox, like no SMTP_URL.
    smtp_url = settings.smtp_url or None
    return mail.deliver(message, smtp_url=smtp_url, outbox=settings.outbox_dir)


def _notice(view: TaskView, base_url: str) -> mail.TaskNotice:
    return mail.TaskNotice(
        task_id=view.id,
        title=task_title(view),
        state=view.state.value,
        error=view.error,
        runtime_seconds=view.runtime_seconds,
        finished_at=view.finished_at,
        url=f"{base_url}/tasks/{view.id}",
    )
