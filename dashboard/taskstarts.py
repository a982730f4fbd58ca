"""Turns a validated request into a started task; shared by the API and the page's forms."""

from typing import Any

from dashboard.enqueue import enqueue
from dashboard.jobs.demo import decide_failure
from dashboard.models import TaskKind, TaskView
from dashboard.services import Services
from dashboard.submissions import DemoRequest, PiRequest


def start_pi(services: Services, request: PiRequest, owner_id: int | None) -> TaskView:
    params = {"digits": request.digits, "method": request.method.value}
    return _start(services, TaskKind.PI, params, owner_id)


def start_demo(services: Services, request: DemoRequest, owner_id: int | None) -> TaskView:
    # A random outcome is drawn now and stored, so a re-run after a crash ends the same way.
    params = {
        "seconds": request.seconds,
        "should_fail": decide_failure(request.should_fail),
        "chosen_at_random": request.should_fail is None,
    }
    return _start(services, TaskKind.DEMO, params, owner_id)


def _start(
    services: Services, kind: TaskKind, params: dict[str, Any], owner_id: int | None
) -> TaskView:
    return enqueue(
        engine=services.engine,
        redis=services.redis,
        celery_app=services.celery,
        kind=kind.value,
        params=params,
        owner_id=owner_id,
        event_log_length=services.settings.event_log_length,
    )
