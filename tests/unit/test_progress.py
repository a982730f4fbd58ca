"""The progress throttle: at most one report per interval, the newest held back, the last sent."""

from dashboard.progress import ProgressThrottle


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def make() -> tuple[ProgressThrottle, list[tuple[float, str]], FakeClock]:
    sent: list[tuple[float, str]] = []
    clock = FakeClock()
    throttle = ProgressThrottle(lambda p, v: sent.append((p, v)), min_interval=0.1, clock=clock)
    return throttle, sent, clock


def test_first_report_goes_out_at_once() -> None:
    throttle, sent, _ = make()
    throttle(1.0, "a")
    assert sent == [(1.0, "a")]


def test_reports_within_the_interval_are_held_back() -> None:
    throttle, sent, clock = make()
    for step in range(1000):  # a job reporting far faster than the page needs
        throttle(step / 10, str(step))
        clock.now += 0.0005  # 1,000 reports in half a second
    assert 5 <= len(sent) <= 6
    assert [percent for percent, _ in sent] == sorted(percent for percent, _ in sent)


def test_flush_sends_the_newest_held_back_report() -> None:
    throttle, sent, clock = make()
    throttle(10.0, "first")
    clock.now += 0.01
    throttle(20.0, "second")
    throttle(99.0, "last")
    throttle.flush()
    assert sent == [(10.0, "first"), (99.0, "last")]


def test_flush_with_nothing_held_back_sends_nothing() -> None:
    throttle, sent, _ = make()
    throttle(50.0, "only")
    throttle.flush()
    throttle.flush()
    assert sent == [(50.0, "only")]


def test_a_report_after_the_interval_goes_out() -> None:
    throttle, sent, clock = make()
    throttle(1.0, "a")
    clock.now += 0.25
    throttle(2.0, "b")
    assert sent == [(1.0, "a"), (2.0, "b")]


def test_percent_is_clamped_to_the_bar() -> None:
    throttle, sent, clock = make()
    throttle(-5.0, "below")
    clock.now += 1
    throttle(250.0, "above")
    assert [percent for percent, _ in sent] == [0.0, 100.0]
