"""Graceful shutdown: SIGTERM lets a web process's open streams say goodbye and close, and
lets a worker finish the task it is running (Celery's warm shutdown); nothing is lost."""

import os
import signal
import threading
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine

from tests.accounts import make_user
from tests.integration.conftest import Worker
from tests.processes import Service, answers, free_port, wait_until
from tests.sse import open_stream, task_states

pytestmark = pytest.mark.integration
CLIENTS = 5


@pytest.mark.same_on_every_path
def test_sigterm_to_the_web_ends_every_stream_with_goodbye(
    stack_env: dict[str, str], engine: Engine, tmp_path: Path
) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    web = Service("web", {**stack_env, "PORT": str(port)}, tmp_path).start()
    user = make_user(engine, prefix="goodbye")
    endings: list[list[str]] = []
    opened = threading.Barrier(CLIENTS + 1, timeout=60)

    def follow() -> None:
        with (
            httpx.Client(base_url=url, headers=user.bearer) as http,
            open_stream(http, "/api/events") as stream,
        ):
            stream.read_until(lambda got: bool(got), 30, events=("ready",))
            opened.wait()
            ended = stream.read_to_end(30, events=("goodbye", "task", "host", "fleet"))
            endings.append([message.event for message in ended])

    try:
        wait_until(lambda: answers(f"{url}/healthz"), "the web", 60)
        threads = [threading.Thread(target=follow, daemon=True) for _ in range(CLIENTS)]
        for thread in threads:
            thread.start()
        opened.wait()
        os.kill(web.pid, signal.SIGTERM)
        # uvicorn re-raises the signal once it has shut down: -SIGTERM is its clean exit.
        assert web.process is not None and web.process.wait(30) in (0, -signal.SIGTERM)
        assert "Finished server process" in web.log_tail()
        for thread in threads:
            thread.join(30)
    finally:
        web.stop()
    assert len(endings) == CLIENTS
    for seen in endings:
        assert seen and seen[-1] == "goodbye", f"the stream ended without a goodbye: {seen}"


def test_sigterm_to_a_worker_lets_its_running_task_finish(
    api: httpx.Client, worker: Worker, engine: Engine
) -> None:
    with open_stream(api, "/api/events") as stream:
        task_id = api.post("/api/tasks/demo", json={"seconds": 4, "should_fail": False}).json()[
            "id"
        ]
        stream.read_until(lambda got: "PROGRESS" in task_states(got, task_id), 30, events=("task",))
    os.kill(worker.pid, signal.SIGTERM)  # the main process only, as `docker stop` does
    try:
        assert worker.process is not None and worker.process.wait(60) == 0, worker.log_tail()
        task = api.get(f"/api/tasks/{task_id}").json()
        assert task["state"] == "SUCCESS" and task["attempts"] == 1  # finished, not re-run
    finally:
        worker.start_and_wait()
