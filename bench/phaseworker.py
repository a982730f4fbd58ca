"""A dashboard worker whose pool processes time the phases of each task (`bench.phases`).

Run as `python -m bench.phaseworker` with PHASES_DIR set. Each pool process wraps the
functions a task's life goes through with a CPU clock (its own thread's, so the heartbeat
thread's time is not counted in them) and writes its totals to PHASES_DIR/<pid>.json every
DUMP_EVERY tasks. The functions run unchanged; the clocks cost about a microsecond a call.
"""

import functools
import importlib
import json
import os
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

from celery.signals import worker_process_init

DUMP_EVERY = 100
WHOLE_TASK = "the whole task, as Celery runs it"
seconds: defaultdict[str, float] = defaultdict(float)
calls: Counter[str] = Counter()


# (module or class, attribute, label) in the order a task meets them; each is looked up when
# it is called, so replacing the attribute times every call.
PHASES = [
    ("celery.app.trace", "fast_trace_task", WHOLE_TASK),
    ("dashboard.runguard:RunGuard", "claim", "run claim and heartbeat (Redis)"),
    ("dashboard.crud", "mark_started", "start: SQL upsert"),
    ("dashboard.endings", "publish", "start: event (Redis)"),
    ("dashboard.lifecycle", "report_progress", "progress: Celery state and event (Redis)"),
    ("celery.app.task:Task", "update_state", "progress: of which the Celery state"),
    ("dashboard.crud", "record_final", "end: SQL upsert"),
    ("dashboard.endings", "publish_ending", "end: event and counts (Redis)"),
    ("celery.backends.base:Backend", "mark_as_done", "Celery stores the result (Redis)"),
    ("dashboard.runguard:RunGuard", "release", "release the claim (Redis)"),
]
LABELS = [label for _, _, label in PHASES]


def owner_of(name: str) -> Any:
    module_name, _, class_name = name.partition(":")
    module = importlib.import_module(module_name)
    return getattr(module, class_name) if class_name else module


def timed(function: Any, label: str) -> Any:
    @functools.wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        started = time.thread_time()
        try:
            return function(*args, **kwargs)
        finally:
            seconds[label] += time.thread_time() - started
            calls[label] += 1
            if label == WHOLE_TASK and calls[label] % DUMP_EVERY == 0:
                dump()

    return wrapper


def dump() -> None:
    path = Path(os.environ["PHASES_DIR"]) / f"{os.getpid()}.json"
    path.write_text(json.dumps({"seconds": seconds, "calls": calls}), encoding="utf-8")


@worker_process_init.connect(weak=False)
def _time_phases(**_: Any) -> None:
    for name, attribute, label in PHASES:
        owner = owner_of(name)
        setattr(owner, attribute, timed(getattr(owner, attribute), label))


if __name__ == "__main__":
    from dashboard.cli import main

    sys.argv = ["dashboard", "worker"]
    main()
