"""After a restart, every task SQL shows as active either runs again or ends saying why.

With the embedded Redis (append-only file) the queue survives a restart, and the messages the
old workers had taken but not finished wait in kombu's `unacked` hash. When `dashboard run`
starts, none of the old workers can still be alive, so those messages go back to the queue at
once instead of after their heartbeats lapse. A task whose message is nowhere (Redis lost its
data: an external Redis without persistence, or a deleted state directory) can never run, so
its row is closed as LOST with the reason rather than shown as active forever.
"""

import json
import logging
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from celery import Celery
from redis import Redis
from sqlmodel import Session

from dashboard import crud, endings, recovery, runtime
from dashboard.models import utcnow

log = logging.getLogger(__name__)
LOST_REASON = "lost in a restart: the task queue no longer holds its message"
# Outside the embedded setup other web processes may be between writing a row and queueing
# its message; rows younger than this are left alone.
SHARED_GRACE = timedelta(minutes=1)


@dataclass
class RecoveryReport:
    restored: int = 0
    closed: list[str] = field(default_factory=list)


def recover_at_start(celery_app: Celery, *, embedded: bool) -> RecoveryReport:
    """`embedded`: this process tree owns the Redis, so no worker of the old run is alive."""
    report = RecoveryReport(restored=recovery.sweep_broker(celery_app, everyone_dead=embedded))
    waiting = waiting_task_ids(celery_app)
    if waiting is None:
        return report  # not a Redis broker: it keeps its own messages (RabbitMQ redelivers)
    report.closed = close_vanished(waiting, grace=timedelta(0) if embedded else SHARED_GRACE)
    if report.restored or report.closed:
        log.warning(
            "after restart: %d task(s) queued again, %d closed as lost",
            report.restored,
            len(report.closed),
        )
    return report


def waiting_task_ids(celery_app: Celery) -> set[str] | None:
    """Ids of every task whose message is queued or taken but unacknowledged (Redis only)."""
    with celery_app.connection_for_write() as connection:
        if connection.transport.driver_type != "redis":
            return None
        channel: Any = connection.default_channel  # kombu's Redis channel; untyped upstream
        client: Redis = channel.client
        queue = celery_app.conf.task_default_queue
        keys = {channel._q_for_pri(queue, priority) for priority in channel.priority_steps}
        ids = {_queued_id(item) for key in keys for item in client.lrange(key, 0, -1)}
        ids |= {recovery.message_task_id(item) for item in client.hvals(recovery.UNACKED_KEY)}
    return {task_id for task_id in ids if task_id}


def _queued_id(payload: bytes | str) -> str | None:
    try:
        return str(json.loads(payload)["headers"]["id"])
    except (ValueError, KeyError, TypeError):
        return None


def close_vanished(waiting: set[str], *, grace: timedelta) -> list[str]:
    """Closes active rows with no message anywhere; returns their ids."""
    cutoff = utcnow() - grace
    closed = []
    for task_id, _worker in crud.active_task_ids(runtime.engine()):
        if task_id in waiting:
            continue
        with Session(runtime.engine(), expire_on_commit=False) as session:
            row = crud.close_if_active(
                session, task_id=task_id, queued_before=cutoff, error=LOST_REASON
            )
            if row is not None:
                endings.announce_ending(session, row)
                closed.append(task_id)
    return closed
