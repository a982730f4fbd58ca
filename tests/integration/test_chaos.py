"""200 tasks while workers are killed at random: every task ends once, none is lost.

Two workers of the test's own run 200 demo tasks (short and long, some failing on purpose)
while a killer, bounded in kills and in time, SIGKILLs a pool process or a whole worker
(then starts a new one). The session's worker is stopped meanwhile, so only these run.
At the end every task has exactly one row in a final state, the state its parameters asked
for, and a task whose run was killed started again within 30 seconds.
"""

import contextlib
import os
import random
import re
import signal
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import httpx
import psutil
import pytest
from redis import Redis
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from dashboard.events import STREAM_KEY, parse_entry
from dashboard.models import ACTIVE_STATES, Task
from tests.accounts import make_user
from tests.integration.conftest import Worker
from tests.processes import wait_until

pytestmark = pytest.mark.integration
TASKS = 200
USERS = 4
MAX_KILLS = 12
KILLING_SECONDS = 60
RUN_AGAIN_WITHIN = 30.0


@dataclass
class Kill:
    at: float
    whole_worker: bool
    # Ids and attempts of the tasks running on the killed worker at that moment.
    running: dict[str, int] = field(default_factory=dict)


def running_on(engine: Engine, worker_pid: int) -> dict[str, int]:
    with Session(engine) as session:
        rows = session.exec(select(Task).where(col(Task.state).in_(ACTIVE_STATES)))
        return {
            row.id: row.attempts
            for row in rows
            if row.worker and re.match(rf"worker-{worker_pid}(\.\d+)?@", row.worker)
        }


def submit_all(clients: list[httpx.Client], rng: random.Random) -> dict[str, str]:
    """Task id -> the final state its parameters ask for. The tasks are several users', in
    turn: one user may hold only USER_MAX_ACTIVE_TASKS (100) at once."""
    expected = {}
    for number in range(TASKS):
        seconds = rng.choice([0, 0, 0.2, 0.5, 1, 3]) if number % 10 else 4
        fail = rng.random() < 0.2
        body = {"seconds": seconds, "should_fail": fail}
        answer = clients[number % len(clients)].post("/api/tasks/demo", json=body)
        assert answer.status_code == 202, answer.text
        expected[answer.json()["id"]] = "FAILURE" if fail else "SUCCESS"
    return expected


def kill_one(workers: list[Worker], engine: Engine, rng: random.Random) -> Kill:
    victim = rng.choice(workers)
    whole = rng.random() < 0.35
    kill = Kill(at=time.time(), whole_worker=whole, running=running_on(engine, victim.pid))
    if whole:
        victim.kill()
        victim.start_and_wait()
    else:
        for child in psutil.Process(victim.pid).children()[:1]:
            os.kill(child.pid, signal.SIGKILL)
    return kill


def test_random_kills_lose_no_task_and_run_none_twice_at_once(
    web: str,
    api: httpx.Client,
    worker: Worker,
    stack_env: dict[str, str],
    engine: Engine,
    redis_client: Redis,
    tmp_path: Path,
) -> None:
    rng = random.Random(20261123)
    # Kills may hit one task several times here; it must run again, not be given up.
    env = {**stack_env, "TASK_MAX_ATTEMPTS": "1000"}
    worker.stop()
    workers = [Worker(env, tmp_path, redis_client) for _ in range(2)]
    kills: list[Kill] = []
    try:
        for index, chaos_worker in enumerate(workers):
            chaos_worker.log_path = tmp_path / f"chaos-worker-{index}.log"
            chaos_worker.start_and_wait()
        others = [make_user(engine).bearer for _ in range(USERS - 1)]
        with contextlib.ExitStack() as stack:
            clients = [api] + [
                stack.enter_context(httpx.Client(base_url=web, headers=bearer, timeout=10))
                for bearer in others
            ]
            expected = submit_all(clients, rng)
        deadline = time.monotonic() + KILLING_SECONDS
        while len(kills) < MAX_KILLS and time.monotonic() < deadline:
            time.sleep(rng.uniform(1.0, 3.0))
            kills.append(kill_one(workers, engine, rng))
        wait_until(lambda: _all_final(engine, expected), "every task to end", 300, pause=1)
    finally:
        for chaos_worker in workers:
            chaos_worker.stop()
        worker.start_and_wait()
    rows = _rows(engine, expected)
    assert len(rows) == TASKS  # one row each, none lost
    assert {row.id: row.state for row in rows} == expected
    assert sum(1 for kill in kills if kill.whole_worker) >= 1 and len(kills) >= 6
    runs = _runs_in_the_log(redis_client, set(expected))
    overlapping = [task_id for task_id, attempts in runs.items() if attempts != sorted(attempts)]
    assert overlapping == [], "an earlier run went on after a later one had started"
    slowest = _slowest_return(kills, redis_client, set(expected))
    whole = sum(1 for kill in kills if kill.whole_worker)
    reruns = sum(row.attempts - 1 for row in rows)
    print(
        f"\nchaos: {TASKS} tasks, {len(kills)} kills ({whole} whole workers), "
        f"0 lost, 0 overlapping runs, {reruns} re-runs, "
        f"at most {max(row.attempts for row in rows)} runs of one task, "
        f"longest time to run again {slowest:.1f} s"
    )
    assert slowest <= RUN_AGAIN_WITHIN, f"a killed task took {slowest:.1f} s to run again"


def _rows(engine: Engine, expected: dict[str, str]) -> list[Task]:
    with Session(engine) as session:
        return list(session.exec(select(Task).where(col(Task.id).in_(list(expected)))))


def _all_final(engine: Engine, expected: dict[str, str]) -> bool:
    rows = _rows(engine, expected)
    return len(rows) == len(expected) and all(row.state not in ACTIVE_STATES for row in rows)


def _events_of(redis: Redis, task_ids: set[str]) -> list[dict[str, object]]:
    entries = redis.xrange(STREAM_KEY)
    views = [parse_entry(entry_id, fields).data for entry_id, fields in entries]  # type: ignore[union-attr]
    return [view for view in views if view.get("id") in task_ids]


def _runs_in_the_log(redis: Redis, task_ids: set[str]) -> dict[str, list[int]]:
    """Per task, the run number (attempts) of each of its events, in log order. Runs one at a
    time means the numbers never go down: no event of an earlier run after a later started."""
    runs: dict[str, list[int]] = {}
    for view in _events_of(redis, task_ids):
        if view.get("state") in ("STARTED", "PROGRESS"):
            runs.setdefault(str(view["id"]), []).append(int(view["attempts"]))  # type: ignore[call-overload]
    return runs


def _slowest_return(kills: list[Kill], redis: Redis, task_ids: set[str]) -> float:
    """For each run a kill ended: from the kill to the start of the task's next run."""
    starts: dict[tuple[str, int], float] = {}
    for view in _events_of(redis, task_ids):
        if view.get("state") == "STARTED" and view.get("started_at"):
            moment = datetime.fromisoformat(str(view["started_at"]).replace("Z", "+00:00"))
            starts.setdefault((str(view["id"]), int(view["attempts"])), moment.timestamp())  # type: ignore[call-overload]
    # A pool kill ends one of its worker's runs, not both: a run is ended by the last kill that
    # saw it running (a later run of the same task has a higher attempt number).
    ended_at: dict[tuple[str, int], float] = {}
    for kill in kills:
        for task_id, attempts in kill.running.items():
            ended_at[(task_id, attempts)] = max(kill.at, ended_at.get((task_id, attempts), 0.0))
    slowest = 0.0
    for (task_id, attempts), moment in ended_at.items():
        again = starts.get((task_id, attempts + 1))
        if again is not None and again > moment:
            slowest = max(slowest, again - moment)
    return slowest
