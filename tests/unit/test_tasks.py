"""The Celery tasks called directly (`task.run`), with sleeping and reporting replaced."""

import functools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from dashboard import lifecycle, tasks
from dashboard.jobs import demo
from dashboard.jobs.demo import DemoFailure
from dashboard.settings import get_settings


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


@pytest.fixture
def state_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv("DASHBOARD_STATE_DIR", str(tmp_path))
    get_settings.cache_clear()
    yield tmp_path
    get_settings.cache_clear()


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
