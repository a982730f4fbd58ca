"""Thin Celery tasks: parameters in, progress out; the logic lives in dashboard.jobs."""

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from celery import Task
from celery.exceptions import Ignore

from dashboard import artifacts, lifecycle
from dashboard.jobs.demo import run_demo
from dashboard.jobs.pi import PiMethod, compute_pi
from dashboard.progress import ProgressThrottle
from dashboard.worker import app

PREVIEW_DIGITS = 50


class TrackedTask(Task[Any, Any]):
    """Skips a redelivered message whose task has already ended: it must not run twice."""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if self.request.id and lifecycle.already_final(self.request.id):
            raise Ignore()
        return super().__call__(*args, **kwargs)


@contextmanager
def progress_reporter(task: Task[Any, Any]) -> Iterator[ProgressThrottle]:
    throttle = ProgressThrottle(
        lambda percent, value: lifecycle.report_progress(task, percent, value)
    )
    try:
        yield throttle
    finally:
        throttle.flush()


@app.task(bind=True, base=TrackedTask, name="dashboard.pi")
def pi_task(self: Task[Any, Any], digits: int, method: str = PiMethod.CHUDNOVSKY) -> dict[str, Any]:
    with progress_reporter(self) as report:
        text = compute_pi(digits, PiMethod(method), report)
    path = artifacts.write_digits(self.request.id or "", text)
    return {
        "digits": digits,
        "method": method,
        "preview": text[: PREVIEW_DIGITS + 1],  # "3." and 49 decimals: 50 digits
        "file": artifacts.relative_to_state_dir(path),
    }


@app.task(bind=True, base=TrackedTask, name="dashboard.demo")
def demo_task(
    self: Task[Any, Any], seconds: float, should_fail: bool, chosen_at_random: bool = False
) -> dict[str, Any]:
    with progress_reporter(self) as report:
        return dict(run_demo(seconds, should_fail, report))
