"""The worker's timer lets go of cancelled entries instead of keeping them until they are due."""

import time

from kombu.asynchronous.timer import Timer

from dashboard.timerpurge import drop_cancelled


def run_due(timer: Timer, seconds: float) -> None:
    """Fires what comes due within `seconds`, as the worker's event loop does."""
    deadline = time.monotonic() + seconds
    schedule = iter(timer)
    while time.monotonic() < deadline:
        wait, entry = next(schedule)
        if entry is not None:
            entry()
        elif wait is None:
            return  # nothing left
        else:
            time.sleep(min(wait, 0.01))


def test_cancelled_entries_go_and_the_rest_still_fire_in_order() -> None:
    timer = Timer()
    fired: list[int] = []
    entries = [timer.call_after(0.002 * number, fired.append, (number,)) for number in range(10)]
    for entry in entries[::2]:
        entry.cancel()
    queue = timer._queue
    assert drop_cancelled(timer) == 5
    assert timer._queue is queue and len(queue) == 5  # the list the timer holds, pruned
    assert drop_cancelled(timer) == 0
    run_due(timer, 5)
    assert fired == [1, 3, 5, 7, 9]
