"""Builds TaskViews from SQL rows, adding live progress from Celery's result backend.

SQL holds durable facts; the percent and intermediate value of a running task live only in
Redis (Celery's PROGRESS state), so a view of an active task reads both.
"""

from collections.abc import Sequence
from typing import Any

from celery import Celery

from dashboard.models import ACTIVE_STATES, Progress, Task, TaskState, TaskView


def progress_of(celery_app: Celery, task_id: str) -> Progress | None:
    meta: dict[str, Any] = celery_app.backend.get_task_meta(task_id)
    result = meta.get("result")
    if meta.get("status") != TaskState.PROGRESS or not isinstance(result, dict):
        return None
    return Progress.model_validate(result)


def view_of(row: Task, celery_app: Celery) -> TaskView:
    active = TaskState(row.state) in ACTIVE_STATES
    return TaskView.from_row(row, progress_of(celery_app, row.id) if active else None)


def views_of(rows: Sequence[Task], celery_app: Celery) -> list[TaskView]:
    return [view_of(row, celery_app) for row in rows]
