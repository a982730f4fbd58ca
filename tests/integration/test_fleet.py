"""The fleet view against real workers: what they report, how soon a gone one shows offline,
and that standard Celery tools (`celery inspect`) see the same workers and tasks."""

import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest
from redis import Redis

from tests.integration.conftest import Worker
from tests.processes import REPO_ROOT, wait_until
from tests.sse import open_stream

pytestmark = pytest.mark.integration
# A worker reports every 3 s and the web reads every 2 s: a change shows within about 5 s.
SHOWS_WITHIN = 20
# Its report goes stale after 10 s; then up to one more reading of the web.
KILLED_SHOWS_OFFLINE_WITHIN = 15
CELERY = Path(sys.executable).parent / "celery"
HOSTNAME = socket.gethostname()


def workers(api: httpx.Client) -> list[dict[str, Any]]:
    answer = api.get("/api/workers")
    assert answer.status_code == 200, answer.text
    listed: list[dict[str, Any]] = answer.json()["workers"]
    return listed


def worker_with(api: httpx.Client, *, pid: int | None = None, name: str | None = None) -> Any:
    """The listed worker with this pid (of this machine) or node name, or None."""
    for listed in workers(api):
        same_pid = pid is not None and listed["pid"] == pid
        if listed["name"] == name or (same_pid and listed["host"]["hostname"] == HOSTNAME):
            return listed
    return None


def wait_for_worker(api: httpx.Client, what: str, check: Any, timeout: float, **which: Any) -> Any:
    def holds() -> bool:
        found = worker_with(api, **which)
        return found is not None and bool(check(found))

    wait_until(holds, what, timeout, pause=0.3)
    return worker_with(api, **which)


def start_demo(api: httpx.Client, seconds: float) -> str:
    started = api.post("/api/tasks/demo", json={"seconds": seconds, "should_fail": False})
    assert started.status_code == 202, started.text
    task_id: str = started.json()["id"]
    return task_id


def task(api: httpx.Client, task_id: str) -> dict[str, Any]:
    found: dict[str, Any] = api.get(f"/api/tasks/{task_id}").json()
    return found


def wait_for_state(api: httpx.Client, task_id: str, states: set[str], timeout: float = 60) -> Any:
    wait_until(lambda: task(api, task_id)["state"] in states, f"{task_id} in {states}", timeout)
    return task(api, task_id)


def test_the_live_worker_is_online_with_its_gauges(api: httpx.Client, worker: Worker) -> None:
    listed = wait_for_worker(
        api, "the worker to report", lambda w: w["online"], SHOWS_WITHIN, pid=worker.pid
    )
    # worker-PID@host (in a PID namespace of its own, worker-PID.NAMESPACE@host)
    assert re.match(rf"worker-{worker.pid}(\.\d+)?@", listed["name"])
    assert (listed["pool"], listed["concurrency"]) == ("prefork", 2)
    assert listed["stopped_at"] is None and listed["silent_seconds"] < 10
    host = listed["host"]
    assert len(host["cpu"]["per_core"]) == psutil.cpu_count()
    assert host["memory"]["total"] == psutil.virtual_memory().total
    assert "/" in {disk["mountpoint"] for disk in host["disks"]}


def test_running_and_done_counts_follow_a_task(api: httpx.Client, worker: Worker) -> None:
    # The worker is shared by the session: a task an earlier test left running would keep
    # its count above zero, so this one starts from an idle worker.
    wait_for_worker(
        api, "the shared worker to be idle", lambda w: w["running"] == 0, 60, pid=worker.pid
    )
    task_id = start_demo(api, 8)
    name = wait_for_state(api, task_id, {"STARTED", "PROGRESS"})["worker"]
    during = wait_for_worker(
        api, "the task to show as running", lambda w: w["running"] >= 1, SHOWS_WITHIN, name=name
    )
    done_before = during["done"]
    assert wait_for_state(api, task_id, {"SUCCESS"})["worker"] == name
    # Done, and nothing running once the worker is idle (a message handed back from an earlier
    # test may still pass through this shared worker, so "idle" is waited for, not assumed).
    after = wait_for_worker(
        api,
        "the task to count as done and the worker to be idle",
        lambda w: w["done"] > done_before and w["running"] == 0,
        SHOWS_WITHIN,
        name=name,
    )
    assert after["online"]


@pytest.fixture
def second_worker(
    stack_env: dict[str, str], tmp_path: Path, redis_client: Redis
) -> Iterator[Worker]:
    process = Worker(stack_env, tmp_path, redis_client).start_and_wait()
    yield process
    process.stop()


def test_a_worker_killed_outright_shows_offline_within_seconds(
    api: httpx.Client, worker: Worker, second_worker: Worker
) -> None:
    pid = second_worker.pid
    wait_for_worker(api, "the second worker online", lambda w: w["online"], SHOWS_WITHIN, pid=pid)
    second_worker.kill()
    killed_at = time.monotonic()
    gone = wait_for_worker(
        api,
        "the killed worker to show offline",
        lambda w: not w["online"],
        KILLED_SHOWS_OFFLINE_WITHIN,
        pid=pid,
    )
    assert gone["stopped_at"] is None, "it never said it stopped: its report went stale"
    assert gone["silent_seconds"] >= 10
    assert time.monotonic() - killed_at >= 5, "not offline before its report could go stale"
    assert worker_with(api, pid=worker.pid)["online"], "the other worker stays online"


def test_a_worker_stopped_warmly_shows_offline_at_once(
    api: httpx.Client, second_worker: Worker
) -> None:
    pid = second_worker.pid
    wait_for_worker(api, "the second worker online", lambda w: w["online"], SHOWS_WITHIN, pid=pid)
    os.killpg(pid, signal.SIGTERM)  # Celery's warm shutdown
    assert second_worker.process is not None
    second_worker.process.wait(30)
    stopped = wait_for_worker(
        api, "the stopped worker to show offline", lambda w: not w["online"], 5, pid=pid
    )
    assert stopped["stopped_at"] is not None


def test_celery_inspect_sees_the_worker_and_its_running_task(
    api: httpx.Client, worker: Worker, stack_env: dict[str, str]
) -> None:
    task_id = start_demo(api, 30)
    try:
        name = wait_for_state(api, task_id, {"STARTED", "PROGRESS"})["worker"]
        inspected = subprocess.run(
            [str(CELERY), "-A", "dashboard.worker", "inspect", "active", "--timeout", "10"],
            env=stack_env,
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            timeout=60,
        )
    finally:
        api.post(f"/api/tasks/{task_id}/cancel")
    assert inspected.returncode == 0, inspected.stdout + inspected.stderr
    assert name in inspected.stdout and task_id in inspected.stdout


@pytest.mark.parametrize("path", ["/events", "/api/events"])
def test_both_streams_carry_the_fleet(api: httpx.Client, worker: Worker, path: str) -> None:
    name = wait_for_worker(
        api, "the worker to report", lambda w: w["online"], SHOWS_WITHIN, pid=worker.pid
    )["name"]
    with open_stream(api, path) as stream:
        # The first comes at once (the latest reading), then one every couple of seconds.
        (first, second) = stream.read_until(lambda got: len(got) >= 2, 30, events=("fleet",))
    for message in (first, second):
        if path == "/api/events":
            assert name in [listed["name"] for listed in message.json()["workers"]]
        else:
            assert message.data.startswith('<section id="fleet"') and name in message.data
