"""The Celery tasks called directly (`task.run`), with sleeping and reporting replaced."""

import functools
import logging
import smtplib
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from celery.exceptions import BackendStoreError
from redis.exceptions import ResponseError

from dashboard import lifecycle, notifications, runtime, tasks
from dashboard.jobs import demo
from dashboard.jobs.demo import DemoFailure
from dashboard.mail import MailConfigError
from dashboard.models import TaskView
from dashboard.settings import get_settings
from tests.factories import running_pi


@pytest.fixture
def reports(monkeypatch: pytest.MonkeyPatch) -> list[tuple[float, str]]:
    """Progress reports as the task would send them to Celery and the event log."""
    sent: list[tuple[float, str]] = []

    def record(_task: Any, percent: float, intermediate: str) -> None:
        sent.append((percent, intermediate))

    monkeypatch.setattr(lifecycle, "report_progress", record)
    return sent


@pytest.fixture
def no_sleep(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    slept: list[float] = []
    fast_demo = functools.partial(demo.run_demo, sleep=slept.append)
    monkeypatch.setattr(tasks, "run_demo", fast_demo)
    return slept


def test_demo_task_succeeds(reports: list[tuple[float, str]], no_sleep: list[float]) -> None:
    result = tasks.demo_task.run(seconds=7, should_fail=False)
    assert result == {"value": "slept 7 s", "seconds": 7}
    assert sum(no_sleep) == pytest.approx(7)
    assert reports[0][0] > 0 and reports[-1][0] == 100.0


def test_demo_task_fails_as_asked(reports: list[tuple[float, str]], no_sleep: list[float]) -> None:
    with pytest.raises(DemoFailure, match="failed as asked"):
        tasks.demo_task.run(seconds=7, should_fail=True)
    assert reports[-1][0] == 100.0, "the last progress report is sent even on failure"


def test_pi_task_writes_all_digits_and_keeps_a_preview(
    reports: list[tuple[float, str]], state_dir: Path
) -> None:
    tasks.pi_task.push_request(id="pi-task-1")
    try:
        result = tasks.pi_task.run(digits=1000, method="chudnovsky")
    finally:
        tasks.pi_task.pop_request()
    assert result["preview"] == "3.1415926535897932384626433832795028841971693993751"[:51]
    assert len(result["preview"]) == 51  # "3." and 49 decimals: 50 digits
    text = (state_dir / result["file"]).read_text().strip()
    assert len(text) == 1002 and text.startswith(result["preview"])
    assert reports and reports[-1][0] == 100.0


def test_csv_task_writes_the_sample_file_named_by_its_id(
    reports: list[tuple[float, str]], state_dir: Path
) -> None:
    tasks.csv_task.push_request(id="csv-task-1")
    try:
        result = tasks.csv_task.run(source="sample", rows=25_000)
    finally:
        tasks.csv_task.pop_request()
    assert result["file"] == "files/csv-csv-task-1.csv" and result["rows"] == 25_000
    written = (state_dir / result["file"]).read_bytes()
    assert len(written) == result["bytes"] and written.count(b"\n") == 25_001
    assert reports[-1][0] == 100.0 and any(0 < percent < 100 for percent, _ in reports)


def test_a_refused_email_is_retried_later(monkeypatch: pytest.MonkeyPatch, state_dir: Path) -> None:
    def refuse(_task_id: str) -> str:
        raise smtplib.SMTPDataError(451, b"try again later")

    retries: list[dict[str, Any]] = []

    def record_retry(**options: Any) -> Exception:
        retries.append(options)
        return RuntimeError("retry scheduled")

    monkeypatch.setattr(notifications, "send_task_finished", refuse)
    monkeypatch.setattr(tasks.mail_task_finished, "retry", record_retry)
    with pytest.raises(RuntimeError, match="retry scheduled"):
        tasks.mail_task_finished.run("some-task")
    (options,) = retries
    assert options["countdown"] == get_settings().mail_retry_seconds
    assert options["max_retries"] == get_settings().mail_max_retries
    assert isinstance(options["exc"], smtplib.SMTPDataError)


def test_a_wrong_smtp_url_is_logged_not_retried(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def misconfigured(_task_id: str) -> str:
        raise MailConfigError("SMTP_URL: unknown scheme 'smtq'")

    monkeypatch.setattr(notifications, "send_task_finished", misconfigured)
    assert tasks.mail_task_finished.run("some-task") is None
    assert "unknown scheme" in caplog.text


def test_a_progress_tick_celery_cannot_store_is_dropped_and_the_task_goes_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Celery raises once its retries of a store run out (about 100 s of Redis away); the tick
    raised inside the job and failed a task that had done its work (probe finding)."""

    class RedisAway:
        request = SimpleNamespace(id="t-outage")

        def update_state(self, **_: Any) -> None:
            raise BackendStoreError("failed to store result on the backend")

    with caplog.at_level(logging.WARNING, logger="dashboard.lifecycle"):
        lifecycle.report_progress(RedisAway(), 50.0, "halfway")  # type: ignore[arg-type]
    assert "progress of t-outage not stored" in caplog.text


MISCONF = "MISCONF Errors writing to the AOF file: No space left on device"


def test_a_progress_tick_redis_refuses_is_dropped_and_the_task_goes_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Redis's disk full (MISCONF) failed every running task at its next tick (probe)."""

    class RedisFull:
        request = SimpleNamespace(id="t-full")

        def update_state(self, **_: Any) -> None:
            raise ResponseError(MISCONF)

    with caplog.at_level(logging.WARNING, logger="dashboard.lifecycle"):
        lifecycle.report_progress(RedisFull(), 50.0, "halfway")  # type: ignore[arg-type]
    assert f"progress of t-full not stored: {MISCONF}" in caplog.text


def test_a_progress_event_redis_refuses_is_dropped_and_the_task_goes_on(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    class Stored:
        request = SimpleNamespace(id="t-full-log")

        def update_state(self, **_: Any) -> None:
            pass

    def refuse(_view: TaskView) -> None:
        raise ResponseError(f"Error running script (call to f_x): {MISCONF}")

    monkeypatch.setattr(runtime, "publish_progress", refuse)
    monkeypatch.setitem(lifecycle._running, "t-full-log", running_pi())
    with caplog.at_level(logging.WARNING, logger="dashboard.lifecycle"):
        lifecycle.report_progress(Stored(), 50.0, "halfway")  # type: ignore[arg-type]
    assert "progress of t-full-log not published" in caplog.text
