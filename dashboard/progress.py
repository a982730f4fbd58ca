"""Throttles a job's progress reports before they become Celery states and events.

A job may call its callback thousands of times a second; the page needs about ten updates a
second. The throttle passes at most one report per interval and keeps the newest of those it
held back, so `flush()` at the end always sends the last one.
"""

import time
from collections.abc import Callable

Emit = Callable[[float, str], None]


class ProgressThrottle:
    def __init__(
        self,
        emit: Emit,
        *,
        min_interval: float = 0.1,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._emit = emit
        self._min_interval = min_interval
        self._clock = clock
        self._last_sent_at: float | None = None
        self._pending: tuple[float, str] | None = None

    def __call__(self, percent: float, intermediate: str) -> None:
        self._pending = (max(0.0, min(100.0, percent)), intermediate)
        now = self._clock()
        if self._last_sent_at is None or now - self._last_sent_at >= self._min_interval:
            self._send(now)

    def flush(self) -> None:
        """Sends the newest report held back, if any."""
        if self._pending is not None:
            self._send(self._clock())

    def _send(self, now: float) -> None:
        assert self._pending is not None
        percent, intermediate = self._pending
        self._pending = None
        self._last_sent_at = now
        self._emit(percent, intermediate)
