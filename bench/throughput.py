"""Throughput: short tasks through dashboard's own path against bare Celery `delay()`.

Both sides use the same private redis-server, one worker with the same settings (prefork,
concurrency 2, acks_late, one message per process) and the same task body (the demo task with
0 seconds). Dashboard's side submits through `enqueue` (the SQL row, the event, the message:
what `POST /api/tasks/demo` does after parsing) and its worker records start, progress and end
(rows, events, run claims, heartbeats); it is timed from the first submission until every row
is final in SQL. Bare Celery's side is timed from the first `delay()` until every result is in.
"""

import sys
import time
from pathlib import Path
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, col, select

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


def dashboard_rate(stack: Stack, count: int, work_dir: Path) -> float:
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
    with process(
        dashboard_command("worker"), stack.env(WORKER_CONCURRENCY=CONCURRENCY), worker_log
    ):
        time.sleep(3)  # the worker connects; its first tasks are timed like the rest
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
        return count / (time.perf_counter() - started)


def finished_count(engine: Any) -> int:
    with Session(engine) as session:
        query = select(func.count()).select_from(Task).where(col(Task.state).in_(FINAL_STATES))
        return int(session.exec(query).one())


def bare_rate(stack: Stack, count: int, work_dir: Path) -> float:
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
    with process(argv, stack.env(), work_dir / "bare-worker.log"):
        time.sleep(3)
        started = time.perf_counter()
        results = [demo.delay(0, False) for _ in range(count)]
        for result in results:
            result.get(timeout=600)
        rate = count / (time.perf_counter() - started)
    app.close()
    return rate


def measure(work_dir: Path, count: int) -> dict[str, Any]:
    with private_stack(work_dir) as stack:
        use_stack(stack, WORKER_CONCURRENCY=CONCURRENCY)
        bare = bare_rate(stack, count, work_dir)
        ours = dashboard_rate(stack, count, work_dir)
    ratio = ours / bare
    return {
        "name": f"throughput, {count:,} short tasks",
        "value": f"{ours:.0f} tasks/s",
        "reference": f"bare Celery {bare:.0f} tasks/s",
        "figure": round(ratio, 3),
        "goal": f"ratio >= {GOAL_RATIO}",
        "met": ratio >= GOAL_RATIO,
        "detail": {"dashboard_per_second": ours, "bare_per_second": bare, "tasks": count},
    }


if __name__ == "__main__":
    import json
    import tempfile

    tasks = int(sys.argv[1]) if len(sys.argv) > 1 else 5000
    with tempfile.TemporaryDirectory() as directory:
        print(json.dumps(measure(Path(directory), tasks), indent=2))
