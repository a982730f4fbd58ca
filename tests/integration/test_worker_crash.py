"""A worker killed with SIGKILL in the middle of a pi task: the task still ends, in one row.

The kill happens once the stream shows the task making progress. Two ways to die: the pool
process running the task (Celery sees the worker lost and requeues the late-acknowledged
message), and the whole worker (its heartbeat lapses and the next worker's recovery sweep
hands the message back).
"""

import os
import signal
from pathlib import Path

import httpx
import psutil
import pytest
from sqlalchemy import Engine
from sqlmodel import Session, select

from dashboard.models import Task
from tests.integration.conftest import Worker
from tests.processes import Service, free_port, wait_until
from tests.sse import open_stream, task_states

pytestmark = pytest.mark.integration
LONG_PI = {"digits": 10, "method": "leibniz"}  # seconds of work, reporting progress all along


def start_and_wait_for_progress(api: httpx.Client) -> str:
    with open_stream(api, "/api/events") as stream:
        task_id = api.post("/api/tasks/pi", json=LONG_PI).json()["id"]
        stream.read_until(
            lambda got: "PROGRESS" in task_states(got, task_id), timeout=60, events=("task",)
        )
    return task_id


def rows(engine: Engine, task_id: str) -> list[Task]:
    with Session(engine) as session:
        return list(session.exec(select(Task).where(Task.id == task_id)))


def wait_for_final(api: httpx.Client, task_id: str) -> dict[str, object]:
    def final() -> bool:
        return api.get(f"/api/tasks/{task_id}").json()["state"] in {"SUCCESS", "FAILURE"}

    wait_until(final, f"task {task_id} to end after the crash", timeout=120, pause=0.5)
    result: dict[str, object] = api.get(f"/api/tasks/{task_id}").json()
    return result


def assert_ran_again_once(api: httpx.Client, engine: Engine, task_id: str) -> None:
    task = wait_for_final(api, task_id)
    assert task["state"] == "SUCCESS"
    assert task["result"]["preview"] == "3.1415926535"  # type: ignore[index]
    (row,) = rows(engine, task_id)
    assert row.attempts >= 2, "the task ran again after the crash"


def test_killing_the_pool_process_requeues_the_task(
    api: httpx.Client, worker: Worker, engine: Engine
) -> None:
    task_id = start_and_wait_for_progress(api)
    pool = psutil.Process(worker.pid).children()
    assert pool
    for child in pool:
        os.kill(child.pid, signal.SIGKILL)
    assert rows(engine, task_id)[0].state in {"STARTED", "PROGRESS"}
    assert_ran_again_once(api, engine, task_id)


def test_killing_the_whole_worker_then_starting_another(
    api: httpx.Client, worker: Worker, engine: Engine
) -> None:
    task_id = start_and_wait_for_progress(api)
    worker.kill()
    assert rows(engine, task_id)[0].state in {"STARTED", "PROGRESS"}
    worker.start_and_wait()
    assert_ran_again_once(api, engine, task_id)


def test_a_task_that_keeps_killing_its_worker_is_given_up_as_lost(
    api: httpx.Client, worker: Worker, engine: Engine
) -> None:
    """Three deaths under it (TASK_MAX_ATTEMPTS), then it is LOST instead of a fourth run."""
    task_id = start_and_wait_for_progress(api)
    for run in range(1, 4):
        wait_until(
            lambda run=run: _running_for_the(run, engine, task_id), f"run {run} to start", 60
        )
        for child in psutil.Process(worker.pid).children():
            os.kill(child.pid, signal.SIGKILL)
    wait_until(lambda: rows(engine, task_id)[0].state == "LOST", "the task to be given up", 60)
    (row,) = rows(engine, task_id)
    assert row.error == "its worker died under it 3 times; it is not run again"
    assert row.attempts == 3
    assert api.get(f"/api/tasks/{task_id}").json()["state"] == "LOST"
    assert "LOST" in api.get(f"/tasks/{task_id}").text


def _running_for_the(run: int, engine: Engine, task_id: str) -> bool:
    (row,) = rows(engine, task_id)
    return row.attempts == run and row.state in {"STARTED", "PROGRESS"}


def test_a_task_whose_worker_is_gone_for_good_ends_lost_saying_why(
    api: httpx.Client, worker: Worker, engine: Engine, stack_env: dict[str, str], tmp_path: Path
) -> None:
    """No worker is left to run it: its heartbeat goes silent, and a web process closes it as
    LOST. A worker that starts later gets the message back and leaves the task LOST."""
    task_id = start_and_wait_for_progress(api)
    worker.kill()
    # Any web process sweeps; this one with a short silence limit, so the test is quick.
    quick = {"PORT": str(free_port()), "TASK_LOST_AFTER_SECONDS": "4", "LOST_SWEEP_SECONDS": "1"}
    sweeper = Service("web", {**stack_env, **quick}, tmp_path).start()
    try:
        wait_until(lambda: rows(engine, task_id)[0].state == "LOST", "the task to be LOST", 60)
    finally:
        sweeper.stop()
    (row,) = rows(engine, task_id)
    assert row.error is not None
    assert row.error.startswith(f"no heartbeat from its worker {row.worker} for ")
    page = api.get(f"/tasks/{task_id}").text
    assert "LOST" in page and "no heartbeat from its worker" in page

    worker.start_and_wait()
    wait_until(
        lambda: f"[{task_id}] ignored" in worker.log_path.read_text(errors="replace"),
        "the new worker to be handed the message and skip it",
        60,
    )
    (row,) = rows(engine, task_id)
    assert row.state == "LOST" and row.attempts == 1


def test_a_worker_cut_off_from_the_database_hands_its_tasks_back(
    api: httpx.Client,
    worker: Worker,
    stack_env: dict[str, str],
    engine: Engine,
    tmp_path: Path,
) -> None:
    """A worker that cannot record a start (its database away past the retries) queues the
    task again instead of acknowledging it: a worker that can then runs it (a scale-out probe
    had three tasks acknowledged and left QUEUED for ever)."""
    nowhere = f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/nowhere"
    env = {**stack_env, "DATABASE_URL": nowhere, "DB_RETRY_SECONDS": "2"}
    worker.stop()
    cut_off = Worker(env, tmp_path, worker.redis)
    try:
        cut_off.start_and_wait()
        task_id = api.post("/api/tasks/demo", json={"seconds": 0, "should_fail": False}).json()[
            "id"
        ]
        wait_until(lambda: f"task {task_id} could not be started here" in cut_off.log_tail(200),
                   "the cut-off worker to hand the task back", 60)  # fmt: skip
    finally:
        cut_off.stop()
        worker.start_and_wait()
    wait_until(lambda: api.get(f"/api/tasks/{task_id}").json()["state"] == "SUCCESS",
               "a worker that reaches the database to run it", 120)  # fmt: skip
    with Session(engine) as session:
        assert len(list(session.exec(select(Task).where(Task.id == task_id)))) == 1
