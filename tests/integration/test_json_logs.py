"""LOG_FORMAT=json: a real worker logs one JSON object per line, naming the task and its owner.

The session's worker is stopped meanwhile, so the task surely runs on the JSON one.
"""

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from redis import Redis

from tests.accounts import Account
from tests.integration.conftest import Worker
from tests.processes import wait_until

pytestmark = [pytest.mark.integration, pytest.mark.same_on_every_path]
FIELDS = {"time", "level", "role", "pid", "logger", "message"}


@pytest.fixture
def json_worker(
    worker: Worker, stack_env: dict[str, str], tmp_path: Path, redis_client: Redis
) -> Iterator[Worker]:
    worker.stop()
    replacement = Worker({**stack_env, "LOG_FORMAT": "json"}, tmp_path, redis_client)
    try:
        yield replacement.start_and_wait()
    finally:
        replacement.stop()
        worker.start_and_wait()


def run_to_the_end(api: httpx.Client, params: dict[str, Any]) -> str:
    task_id: str = api.post("/api/tasks/demo", json=params).json()["id"]
    wait_until(
        lambda: api.get(f"/api/tasks/{task_id}").json()["state"] in {"SUCCESS", "FAILURE"},
        f"task {task_id} to end",
        60,
    )
    return task_id


def test_every_line_is_json_and_lines_about_a_task_name_it_and_its_owner(
    json_worker: Worker, api: httpx.Client, user: Account
) -> None:
    task_id = run_to_the_end(api, {"seconds": 0.5, "should_fail": True})
    # Read while the worker runs: at shutdown Celery writes two notices past logging.
    entries = [json.loads(line) for line in json_worker.log_path.read_text().splitlines()]
    assert all(entry.keys() >= FIELDS and entry["role"] == "worker" for entry in entries)
    about = [e for e in entries if task_id in e["message"] or e.get("task_id") == task_id]
    # Every line about it names the task and its owner: the pool process's lines and the main
    # process's "received" (the owner comes in the message's header).
    assert all(entry.get("task_id") == task_id for entry in about), about
    assert all(entry.get("user") == user.id for entry in about), about
    ran = [entry for entry in about if entry["pid"] != json_worker.pid]
    assert ran, about
    # A failure asked for is expected: said at INFO, with no traceback to wade through.
    (failure,) = [entry for entry in ran if "raised expected" in entry["message"]]
    assert failure["level"] == "INFO" and "exception" not in failure, failure
    assert "DemoFailure" in failure["message"] and "failed as asked" in failure["message"]
    assert not [entry for entry in ran if entry["level"] == "ERROR"], ran
    received = [entry for entry in about if entry["pid"] == json_worker.pid]
    assert any("received" in entry["message"] for entry in received)
