"""Turns a validated request into a started task; shared by the API and the page's forms."""

from typing import Any

from dashboard import quotas
from dashboard.accounts.viewer import Viewer
from dashboard.enqueue import NewTask, enqueue
from dashboard.jobs.demo import decide_failure
from dashboard.models import TaskKind, TaskView
from dashboard.services import Services
from dashboard.submissions import CsvRequest, DemoRequest, Notified, PiRequest


def start_pi(
    services: Services, request: PiRequest, owner: Viewer, task_id: str | None = None
) -> TaskView:
    params = {"digits": request.digits, "method": request.method.value}
    return _start(services, TaskKind.PI, params, owner, request, task_id)


def start_demo(
    services: Services, request: DemoRequest, owner: Viewer, task_id: str | None = None
) -> TaskView:
    # A random outcome is drawn now and stored, so a re-run after a crash ends the same way.
    params = {
        "seconds": request.seconds,
        "should_fail": decide_failure(request.should_fail),
        "chosen_at_random": request.should_fail is None,
    }
    return _start(services, TaskKind.DEMO, params, owner, request, task_id)


def start_csv(
    services: Services, request: CsvRequest, owner: Viewer, task_id: str | None = None
) -> TaskView:
    params: dict[str, Any] = {"source": request.source}
    if request.source == "sample":
        params["rows"] = request.rows
    return _start(services, TaskKind.CSV, params, owner, request, task_id)


def _start(
    services: Services,
    kind: TaskKind,
    params: dict[str, Any],
    owner: Viewer,
    request: Notified,
    task_id: str | None,
) -> TaskView:
    new_task = NewTask(
        kind=kind.value,
        params=params,
        owner_id=owner.id,
        owner_email=owner.email,
        notify_email=request.notify_email,
        task_id=task_id,
    )
    return start(services, new_task)


def start(services: Services, new_task: NewTask) -> TaskView:
    """TooManyActive when the owner has as many tasks queued or running as allowed."""
    limit = services.settings.user_max_active_tasks
    quotas.check_active(services.engine, new_task.owner_id, limit)
    return enqueue(
        new_task,
        engine=services.engine,
        redis=services.redis,
        celery_app=services.celery,
        event_log_length=services.settings.event_log_length,
    )
