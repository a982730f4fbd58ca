"""Bounded memory: the web and worker processes' resident memory after 100,000 tasks against
what it was after the first 1,000.

One web process and one worker (prefork, concurrency 2), started as a deployment starts them,
on a private redis-server and SQLite. Demo tasks of 0 seconds go in through dashboard's own
path (`enqueue`: the row, the event, the message), with at most BACKLOG of them unfinished, and
one client follows its owner's JSON event stream all along, so the web process handles every
event. RSS is read after each checkpoint's tasks have all ended and the processes have settled;
the worker's figure is its main process and its pool processes together.

`make bench` runs it in a process of its own: Celery's app keeps the broker and result store
it first configured, which in the suite's process belong to an earlier part's stopped stack.
"""

import os
import socket
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import uvloop

from bench import sseclient
from bench.latency import HOST, owner_with_task
from bench.stack import (
    Stack,
    dashboard_command,
    private_stack,
    process,
    resident,
    use_stack,
    wait_for,
)
from bench.throughput import finished_count
from dashboard.redisserver import free_port

BASELINE = 1_000
CHECKPOINTS = (BASELINE, 10_000, 25_000, 50_000, 100_000)
BACKLOG = 2_000
SETTLE_SECONDS = 3
GOAL_GROWTH = 0.10
MB = 2**20


class Follower:
    """One client on the owner's event stream, in a thread of its own; counts what it gets."""

    def __init__(self, port: int, token: str) -> None:
        self.port, self.token = port, token
        self.received = 0
        self._thread = threading.Thread(target=lambda: uvloop.run(self._follow()), daemon=True)

    def start(self) -> None:
        self._thread.start()

    async def _follow(self) -> None:
        reader, writer = await sseclient.open_stream(HOST, self.port, "/api/events", self.token)
        try:
            async for message in sseclient.messages(reader):
                self.received += message.event == "task"
        finally:
            writer.close()


def submit(stack: Stack, owner: tuple[int, str], count: int, done_before: int) -> None:
    """Submits `count` tasks, never more than BACKLOG unfinished, and waits for them all."""
    from dashboard import runtime
    from dashboard.enqueue import NewTask, enqueue
    from dashboard.settings import get_settings
    from dashboard.worker import app

    engine, redis, length = runtime.engine(), runtime.redis(), get_settings().event_log_length
    task = NewTask(
        kind="demo",
        params={"seconds": 0, "should_fail": False},
        owner_id=owner[0],
        owner_email=owner[1],
    )
    target = done_before + count
    for number in range(count):
        if number % 500 == 0:
            _wait_until_done(engine, done_before + number - BACKLOG)
        enqueue(task, engine=engine, redis=redis, celery_app=app, event_log_length=length)
    _wait_until_done(engine, target)


def _wait_until_done(engine: Any, count: int) -> None:
    wait_for(lambda: finished_count(engine) >= count, f"{count} tasks to end", 300)


@contextmanager
def running(stack: Stack, work_dir: Path, port: int) -> Iterator[tuple[Any, Any]]:
    env = stack.env(PORT=str(port), HOST=HOST, WORKER_CONCURRENCY="2")
    with (
        process(dashboard_command("web"), env, work_dir / "web.log") as web,
        process(dashboard_command("worker"), env, work_dir / "worker.log") as worker,
    ):
        yield web, worker


def measure(work_dir: Path, checkpoints: tuple[int, ...] = CHECKPOINTS) -> list[dict[str, Any]]:
    with private_stack(work_dir) as stack:
        use_stack(stack)
        token, view = owner_with_task(stack)
        owner = (view.owner_id, view.owner)
        port = free_port()
        with running(stack, work_dir, port) as (web, worker):
            wait_for(lambda: _listening(port), "the web", 60)
            follower = Follower(port, token)
            follower.start()
            readings = _walk(stack, owner, checkpoints, web, worker)
            received = follower.received
    return [_row(readings, received)]


def _walk(
    stack: Stack, owner: tuple[int, str], checkpoints: tuple[int, ...], web: Any, worker: Any
) -> list[dict[str, float]]:
    readings, done = [], 0
    for checkpoint in checkpoints:
        submit(stack, owner, checkpoint - done, done)
        done = checkpoint
        time.sleep(SETTLE_SECONDS)
        reading = {"tasks": done, "web_mb": resident(web) / MB, "worker_mb": resident(worker) / MB}
        print(f"   after {done:,} tasks: {reading}", file=sys.stderr, flush=True)
        readings.append(reading)
    return readings


def _row(readings: list[dict[str, float]], received: int) -> dict[str, Any]:
    first, last = readings[0], readings[-1]
    growth = {role: last[f"{role}_mb"] / first[f"{role}_mb"] - 1 for role in ("web", "worker")}
    worst = max(growth.values())
    return {
        "name": f"memory after {last['tasks']:,.0f} tasks",
        "value": f"web {last['web_mb']:.1f} MB ({growth['web']:+.1%}), "
        f"worker {last['worker_mb']:.1f} MB ({growth['worker']:+.1%})",
        "reference": f"after {first['tasks']:,.0f}: web {first['web_mb']:.1f} MB, "
        f"worker {first['worker_mb']:.1f} MB",
        "figure": round(worst, 4),
        "goal": f"each within {GOAL_GROWTH:.0%} of after {first['tasks']:,.0f}",
        "met": worst <= GOAL_GROWTH,
        "detail": {"readings": readings, "task_events_received": received},
    }


def _listening(port: int) -> bool:
    try:
        with socket.create_connection((HOST, port), timeout=1):
            return True
    except OSError:
        return False


if __name__ == "__main__":
    import json
    import tempfile

    tasks = int(sys.argv[1]) if len(sys.argv) > 1 else CHECKPOINTS[-1]
    points = (*(point for point in CHECKPOINTS if point < tasks), tasks)
    with tempfile.TemporaryDirectory() as directory:
        print(json.dumps(measure(Path(directory), points), indent=2), flush=True)
    os._exit(0)  # the follower's thread holds a connection to a server that is gone
