"""Builds TaskViews from SQL rows, adding live progress from Celery's result backend.

SQL holds durable facts; the percent and intermediate value of a running task live only in
Redis (Celery's PROGRESS state), so a view of an active task reads both. All the active rows
of a page are read with one MGET, and a Redis that does not answer only means that progress
is unknown for a moment: the rows themselves still come from SQL.
"""

import json
import logging
from collections.abc import Sequence
from typing import Any

from pydantic import ValidationError
from redis.exceptions import RedisError
from sqlmodel import Session

from dashboard.accounts import users
from dashboard.models import ACTIVE_STATES, Progress, Task, TaskState, TaskView
from dashboard.services import Services

log = logging.getLogger(__name__)


def progress_of(services: Services, task_ids: Sequence[str]) -> dict[str, Progress]:
    """The PROGRESS meta Celery keeps for each of these tasks, where there is one."""
    if not task_ids:
        return {}
    # The keys Celery's Redis result backend keeps task states under (celery-task-meta-<id>).
    backend: Any = services.celery.backend
    keys = [backend.get_key_for_task(task_id) for task_id in task_ids]
    try:
        values: Any = services.redis.mget(keys)
    except RedisError as error:
        log.warning("progress unavailable: %s", error)
        return {}
    found = zip(task_ids, (_progress(raw) for raw in values), strict=True)
    return {task_id: progress for task_id, progress in found if progress is not None}


def _progress(raw: bytes | None) -> Progress | None:
    try:
        meta = json.loads(raw) if raw else {}
        if meta.get("status") == TaskState.PROGRESS and isinstance(meta.get("result"), dict):
            return Progress.model_validate(meta["result"])
    except (ValueError, ValidationError):
        pass  # not ours to judge: show no progress rather than fail the page
    return None


def views_of(services: Services, session: Session, rows: Sequence[Task]) -> list[TaskView]:
    """`session` is the one the rows came from: a request that took a second connection while
    holding its first could wait on the pool for ever, once enough requests did at once (a
    probe saw 30 s stalls and 500s with 20 clients)."""
    active = [row.id for row in rows if TaskState(row.state) in ACTIVE_STATES]
    progress = progress_of(services, active)
    owners = _owner_emails(session, rows)
    return [
        TaskView.from_row(row, progress.get(row.id), owners.get(row.owner_id or 0)) for row in rows
    ]


def _owner_emails(session: Session, rows: Sequence[Task]) -> dict[int, str]:
    if not rows:
        return {}
    return users.emails_by_id(session, user_ids=(row.owner_id for row in rows))


def view_of(services: Services, session: Session, row: Task) -> TaskView:
    return views_of(services, session, [row])[0]
