"""The demo long operation, without its sleeping."""

import pytest

from dashboard.jobs.demo import DemoFailure, decide_failure, run_demo


def no_sleep(seconds: float) -> None:
    assert seconds >= 0


def test_success_reports_progress_to_the_end() -> None:
    reports: list[tuple[float, str]] = []
    result = run_demo(7, False, lambda p, v: reports.append((p, v)), sleep=no_sleep)
    assert result == {"value": "slept 7 s", "seconds": 7}
    assert reports[-1] == (100.0, "7.0 s of 7 s")
    assert len(reports) == 28  # four steps a second


def test_failure_raises_after_the_whole_sleep() -> None:
    reports: list[tuple[float, str]] = []
    with pytest.raises(DemoFailure, match="failed as asked, after 2 s"):
        run_demo(2, True, lambda p, v: reports.append((p, v)), sleep=no_sleep)
    assert reports[-1][0] == 100.0


def test_a_failure_the_coin_toss_chose_does_not_say_it_was_asked_for() -> None:
    with pytest.raises(DemoFailure, match="failed as the coin toss chose, after 3 s"):
        run_demo(3, True, lambda p, v: None, sleep=no_sleep, chosen_at_random=True)


def test_zero_seconds_still_finishes() -> None:
    assert run_demo(0, False, lambda p, v: None, sleep=no_sleep)["seconds"] == 0


def test_failure_choice() -> None:
    assert decide_failure(True) is True
    assert decide_failure(False) is False
    assert decide_failure(None, chooser=lambda: 0.2) is True
    assert decide_failure(None, chooser=lambda: 0.7) is False
