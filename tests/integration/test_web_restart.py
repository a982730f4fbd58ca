"""A web process restarts under 100 connected SSE clients: they reconnect, resume, miss nothing.

The clients act as EventSource does: when the stream ends or cannot be reached they try
again, naming the last event id they saw. Tasks run before, during and after the restart.
Each client must end up with exactly the events the log holds for its user after its first
`ready`: none missing, none twice.
"""

import asyncio
import threading
from pathlib import Path

import httpx
import pytest
from redis import Redis
from sqlalchemy import Engine

from dashboard.events import id_key
from tests.accounts import Account, make_user
from tests.processes import Service, answers, free_port, wait_until
from tests.ssecrowd import Client, Crowd, last_id_of, log_ids_of, run_crowd

pytestmark = pytest.mark.integration
CLIENTS = 100
TEST_SECONDS = 150


def run_demo(web_url: str, user: Account, seconds: float) -> str:
    body = {"seconds": seconds, "should_fail": False}
    answer = httpx.post(f"{web_url}/api/tasks/demo", json=body, headers=user.bearer, timeout=10)
    task_id: str = answer.json()["id"]
    return task_id


def state(web_url: str, user: Account, task_id: str) -> str:
    try:
        answer = httpx.get(f"{web_url}/api/tasks/{task_id}", headers=user.bearer, timeout=5)
    except httpx.HTTPError:
        return "unknown"
    result: str = answer.json()["state"]
    return result


def test_a_web_restart_under_100_sse_clients_loses_them_nothing(
    stack_env: dict[str, str],
    worker: object,
    engine: Engine,
    redis_client: Redis,
    tmp_path: Path,
) -> None:
    port = free_port()
    web_url = f"http://127.0.0.1:{port}"
    # The crowd is one user's: more streams than a user may hold by default.
    env = {**stack_env, "PORT": str(port), "USER_MAX_STREAMS": str(CLIENTS + 10)}
    web = Service("web", env, tmp_path).start()
    user = make_user(engine, prefix="crowd")
    crowd = Crowd([Client(web_url, user.bearer) for _ in range(CLIENTS)])
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=run_crowd, args=(crowd, loop), daemon=True)
    try:
        wait_until(lambda: answers(f"{web_url}/healthz"), "the web", 60)
        first = run_demo(web_url, user, 0)  # so the log has an entry for `ready` to name
        wait_until(lambda: state(web_url, user, first) == "SUCCESS", "a first task", 30)
        thread.start()
        wait_until(lambda: all(c.ready_id for c in crowd.clients), "100 streams to open", 60)
        before = run_demo(web_url, user, 0)
        wait_until(lambda: state(web_url, user, before) == "SUCCESS", "a task before", 30)
        during = run_demo(web_url, user, 3)  # its events fall while the web is away
        web.stop()
        web.start()
        wait_until(lambda: answers(f"{web_url}/healthz"), "the web to come back", 60)
        wait_until(lambda: state(web_url, user, during) == "SUCCESS", "the task during", 60)
        after = run_demo(web_url, user, 0)
        wait_until(lambda: state(web_url, user, after) == "SUCCESS", "a task after", 30)
        final_id = last_id_of(redis_client, user.id)
        wait_until(
            lambda: all(
                c.task_ids and id_key(c.task_ids[-1]) >= id_key(final_id) for c in crowd.clients
            ),
            "every client to have the last event",
            60,
        )
    finally:
        loop.call_soon_threadsafe(crowd.stop.set)
        thread.join(30)
        web.stop()
    for client in crowd.clients:
        assert client.ready_id is not None
        expected = log_ids_of(redis_client, user.id, client.ready_id, final_id)
        assert client.task_ids == expected, "missing or repeated events"
        assert client.connects >= 2  # it did lose the stream, and came back
    assert len(expected) >= 9  # three tasks: queued, started, progress..., success each
