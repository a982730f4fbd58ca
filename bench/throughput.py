"""Throughput: short tasks through dashboard's own path against bare Celery `delay()`.

Both sides use the same private redis-server, one worker with the same settings (prefork,
concurrency 2, acks_late, one message per process) and the same task body (the demo task with
0 seconds). Dashboard's side submits through `enqueue` (the SQL row, the event, the message:
what `POST /api/tasks/demo` does after parsing) and its worker records start, progress and end
(rows, events, run claims, heartbeats); it is timed from the first submission until every row
is final in SQL. Bare Celery's side is timed from the first `delay()` until every result is in.

Each side also reports the CPU it spent per task in each process (bench/cpumeter.py): the
submitting process, the worker's main process, its pool and redis-server. On two cores the
benchmark is bound by CPU, so those figures say where the difference in rate comes from.
`python -m bench.phases` splits the pool's share further.
"""

import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil
from sqlalchemy import func
from sqlmodel import Session, col, select

from bench.cpumeter import Members, metered
from bench.stack import (
    Stack,
    dashboard_command,
    private_stack,
    process,
    use_stack,
    user_with_token,
    wait_for,
)
from dashboard.models import FINAL_STATES, Task
from dashboard.settings import get_settings

GOAL_RATIO = 0.9
CONCURRENCY = "2"


@dataclass(frozen=True)
class Side:
    per_second: float
    cpu_ms_per_task: dict[str, float]


def process_groups(stack: Stack, worker: psutil.Process) -> dict[str, Members]:
    redis = [psutil.Process(stack.redis_pid)] if stack.redis_pid else []
    return {
        "submitting": lambda: [psutil.Process()],
        "worker main": lambda: [worker],
        "worker pool": lambda: worker.children(recursive=True),
        "redis-server": lambda: redis,
    }


def dashboard_side(
    stack: Stack, count: int, work_dir: Path, worker_argv: list[str] | None = None
) -> Side:
    """`worker_argv` starts the worker another way (bench.phases profiles its pool)."""
    from dashboard import runtime
    from dashboard.enqueue import NewTask, enqueue
    from dashboard.worker import app

    settings = get_settings()
    engine, redis = runtime.engine(), runtime.redis()
    owner, _ = user_with_token("throughput")  # tasks have an owner, as through the page
    task = NewTask(
        kind="demo",
        params={"seconds": 0, "should_fail": False},
        owner_id=owner.id,
        owner_email=owner.email,
    )
    worker_log = work_dir / "dashboard-worker.log"
    argv = worker_argv or dashboard_command("worker")
    with process(argv, stack.env(WORKER_CONCURRENCY=CONCURRENCY), worker_log) as worker:
        time.sleep(3)  # the worker connects; its first tasks are timed like the rest
        with metered(process_groups(stack, worker), count) as cpu:
            started = time.perf_counter()
            for _ in range(count):
                enqueue(
                    task,
                    engine=engine,
                    redis=redis,
                    celery_app=app,
                    event_log_length=settings.event_log_length,
                )
            wait_for(lambda: finished_count(engine) >= count, f"{count} dashboard tasks", 600)
            rate = count / (time.perf_counter() - started)
    return Side(rate, cpu)


def finished_count(engine: Any) -> int:
    with Session(engine) as session:
        query = select(func.count()).select_from(Task).where(col(Task.state).in_(FINAL_STATES))
        return int(session.exec(query).one())


def bare_side(stack: Stack, count: int, work_dir: Path) -> Side:
    from bench.bareapp import app, demo

    argv = [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "bench.bareapp",
        "worker",
        f"--concurrency={CONCURRENCY}",
        "--loglevel=WARNING",
        "--hostname=bare@%h",
    ]
    with process(argv, stack.env(), work_dir / "bare-worker.log") as worker:
        time.sleep(3)
        with metered(process_groups(stack, worker), count) as cpu:
            started = time.perf_counter()
            results = [demo.delay(0, False) for _ in range(count)]
            for result in results:
                result.get(timeout=600)
            rate = count / (time.perf_counter() - started)
    app.close()
    return Side(rate, cpu)


def measure(work_dir: Path, count: int) -> dict[str, Any]:
    with private_stack(work_dir) as stack:
        use_stack(stack, WORKER_CONCURRENCY=CONCURRENCY)
        bare = bare_side(stack, count, work_dir)
        ours = dashboard_side(stack, count, work_dir)
    ratio = ours.per_second / bare.per_second
    return {
        "name": f"throughput, {count:,} short tasks",
        "value": f"{ours.per_second:.0f} tasks/s; CPU {cpu_text(ours)}",
        "reference": f"bare Celery {bare.per_second:.0f} tasks/s; CPU {cpu_text(bare)}",
        "figure": round(ratio, 3),
        "goal": f"ratio >= {GOAL_RATIO}",
        "met": ratio >= GOAL_RATIO,
        "detail": {
            "dashboard_per_second": ours.per_second,
            "bare_per_second": bare.per_second,
            "tasks": count,
            "cpu_ms_per_task": {"dashboard": ours.cpu_ms_per_task, "bare": bare.cpu_ms_per_task},
        },
    }


def cpu_text(side: Side) -> str:
    """The total and each process's share, e.g. "8.1 ms/task (submitting 1.9, worker main 1.4,
    worker pool 4.1, redis-server 0.8)"."""
    parts = ", ".join(f"{name} {ms:.1f}" for name, ms in side.cpu_ms_per_task.items())
    return f"{sum(side.cpu_ms_per_task.values()):.1f} ms/task ({parts})"


if __name__ == "__main__":
    import json
    import tempfile

    tasks = int(sys.argv[1]) if len(sys.argv) > 1 else 5000
    with tempfile.TemporaryDirectory() as directory:
        print(json.dumps(measure(Path(directory), tasks), indent=2))
