"""CPU time per group of processes over a measured stretch: where a benchmark's time goes.

On this machine's two cores the throughput benchmark is bound by CPU, so the ratio of two
sides' rates is, near enough, the inverse ratio of the CPU each spends per task.
"""

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import psutil

Members = Callable[[], list[psutil.Process]]


def cpu_seconds(process: psutil.Process) -> float:
    times = process.cpu_times()
    return float(times.user + times.system)


def snapshot(groups: dict[str, Members]) -> dict[str, dict[int, float]]:
    taken: dict[str, dict[int, float]] = {}
    for name, members in groups.items():
        taken[name] = {}
        for process in members():
            try:
                taken[name][process.pid] = cpu_seconds(process)
            except psutil.NoSuchProcess:
                continue
    return taken


@contextmanager
def metered(groups: dict[str, Members], tasks: int) -> Iterator[dict[str, float]]:
    """Yields a dict that holds, once the block is left, each group's CPU milliseconds per task.

    Members are looked up again at the end, so a process started meanwhile counts from zero;
    one that ended meanwhile (a replaced pool process) is not counted at all.
    """
    before = snapshot(groups)
    per_task: dict[str, float] = {}
    yield per_task
    after = snapshot(groups)
    for name, now in after.items():
        spent = sum(seconds - before[name].get(pid, 0.0) for pid, seconds in now.items())
        per_task[name] = round(1000 * spent / tasks, 2)
