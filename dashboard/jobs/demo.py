"""The demo long operation: sleep a while, then succeed or fail.

It stands in for slow work (the homework service's "Create Task!"): it sleeps in small steps
so it can report progress, and fails on request so failures can be seen end to end.
"""

import random
import time
from collections.abc import Callable

ProgressCallback = Callable[[float, str], None]

STEPS_PER_SECOND = 4


class DemoFailure(RuntimeError):
    """The failure the demo task was asked to produce."""


def decide_failure(should_fail: bool | None, chooser: Callable[[], float] = random.random) -> bool:
    """None means a coin toss, as in the original service."""
    return chooser() < 0.5 if should_fail is None else should_fail


def run_demo(
    seconds: float,
    should_fail: bool,
    progress: ProgressCallback,
    sleep: Callable[[float], None] = time.sleep,
    *,
    chosen_at_random: bool = False,
) -> dict[str, float | str]:
    steps = max(1, round(seconds * STEPS_PER_SECOND))
    for step in range(1, steps + 1):
        sleep(seconds / steps)
        elapsed = seconds * step / steps
        progress(100.0 * step / steps, f"{elapsed:.1f} s of {seconds:g} s")
    if should_fail:
        how = "as the coin toss chose" if chosen_at_random else "as asked"
        raise DemoFailure(f"the demo task failed {how}, after {seconds:g} s")
    return {"value": f"slept {seconds:g} s", "seconds": seconds}
