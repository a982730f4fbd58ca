"""Redis killed with SIGKILL in the middle of work, then started again on its files.

A web process, a worker and 20 SSE clients use a redis-server of their own (append-only file,
fsync every second, as the embedded one runs). Demo tasks are queued and running when the
server dies. It is started again a second later on the same port and directory, as the
supervisor of `dashboard run` does. Then:
- the web and the worker reconnect by themselves within 5 seconds of Redis answering again;
- every client ends with every event the log holds for its user after its first `ready`,
  none twice, whether the web held its stream through the outage or it reconnected with
  Last-Event-ID (events written in the last second before the kill may be gone from the log with
  the unsynced part of the file; those are not asked for);
- every task queued before the kill ends SUCCESS, in one row.
"""

import asyncio
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from redis import Redis
from redis.exceptions import RedisError
from sqlalchemy import Engine

from dashboard.events import STREAM_KEY, EventType, id_key, parse_entry
from dashboard.redisserver import EmbeddedRedis
from tests.accounts import Account, make_user
from tests.integration.conftest import Worker
from tests.processes import Service, answers, free_port, wait_until
from tests.ssecrowd import Client, Crowd, last_id_of, log_ids_of, run_crowd

pytestmark = pytest.mark.integration
CLIENTS = 20
TASKS = 12
TASK_SECONDS = 1.5
UNACKED_KEY, UNACKED_INDEX_KEY = "unacked", "unacked_index"  # kombu's Redis transport's
RECONNECT_WITHIN = 5.0


class Stack:
    def __init__(self, redis: EmbeddedRedis, web: Service, worker: Worker, url: str) -> None:
        self.redis, self.web, self.worker, self.url = redis, web, worker, url

    def states(self, user: Account, task_ids: list[str]) -> list[str]:
        with httpx.Client(base_url=self.url, headers=user.bearer, timeout=5) as http:
            return [http.get(f"/api/tasks/{task_id}").json()["state"] for task_id in task_ids]


@pytest.fixture
def stack(stack_env: dict[str, str], tmp_path: Path) -> Iterator[Stack]:
    redis = EmbeddedRedis(tmp_path / "state")
    redis.start()
    port = free_port()
    env = {**stack_env, "REDIS_URL": redis.url, "PORT": str(port)}
    client = Redis.from_url(redis.url)
    web = Service("web", env, tmp_path).start()
    worker = Worker(env, tmp_path, client)
    try:
        worker.start_and_wait()
        wait_until(lambda: answers(f"http://127.0.0.1:{port}/healthz"), "the web", 60)
        yield Stack(redis, web, worker, f"http://127.0.0.1:{port}")
    finally:
        worker.stop()
        web.stop()
        redis.stop()
        client.close()


def submit(stack: Stack, user: Account, count: int, seconds: float) -> list[str]:
    body = {"seconds": seconds, "should_fail": False}
    with httpx.Client(base_url=stack.url, headers=user.bearer, timeout=10) as http:
        return [http.post("/api/tasks/demo", json=body).json()["id"] for _ in range(count)]


def kill_and_restart(redis: EmbeddedRedis) -> tuple[float, float]:
    """SIGKILL, a second of absence, then the same server again on its files. Returns the
    moment it answers again (monotonic, and wall-clock for comparing with event ids)."""
    assert redis.pid is not None
    os.kill(redis.pid, signal.SIGKILL)
    wait_until(lambda: not answers_ping(redis), "redis-server to die", 10)
    time.sleep(1)
    redis.start()
    return time.monotonic(), time.time()


def answers_ping(redis: EmbeddedRedis) -> bool:
    try:
        with Redis.from_url(redis.url, socket_timeout=1) as client:
            return bool(client.ping())
    except RedisError:
        return False


def test_a_redis_crash_loses_no_queued_task_and_no_logged_event(
    stack: Stack, engine: Engine
) -> None:
    user = make_user(engine, prefix="rediscrash")
    crowd = Crowd([Client(stack.url, user.bearer) for _ in range(CLIENTS)])
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=run_crowd, args=(crowd, loop), daemon=True)
    client = Redis.from_url(stack.redis.url)
    try:
        (first,) = submit(stack, user, 1, 0)  # the log needs an entry for `ready` to name
        wait_until(lambda: stack.states(user, [first]) == ["SUCCESS"], "a first task", 30)
        thread.start()
        wait_until(lambda: all(c.ready_id for c in crowd.clients), "the streams to open", 60)
        task_ids = submit(stack, user, TASKS, TASK_SECONDS)
        wait_until(lambda: "PROGRESS" in stack.states(user, task_ids), "work under way", 30)

        back_at, back_wall = kill_and_restart(stack.redis)
        web_back = _seconds_until(lambda: _web_serves_streams(stack, user), back_at)
        worker_back = _seconds_until(lambda: _worker_wrote_since(client, back_wall), back_at)
        assert web_back <= RECONNECT_WITHIN, f"the web took {web_back:.1f} s to reconnect"
        assert worker_back <= RECONNECT_WITHIN, f"the worker took {worker_back:.1f} s"

        wait_until(
            lambda: set(stack.states(user, task_ids)) == {"SUCCESS"}, "every task to end", 120
        )
        final_id = last_id_of(client, user.id)
        wait_until(
            lambda: all(final_id in c.task_ids for c in crowd.clients),
            "every client to have the last event",
            60,
        )
    finally:
        loop.call_soon_threadsafe(crowd.stop.set)
        thread.join(30)
        client.close()
    log = Redis.from_url(stack.redis.url)
    reconnected = sum(each.connects >= 2 for each in crowd.clients)
    print(
        f"\nreconnected after Redis came back: web {web_back:.2f} s, worker {worker_back:.2f} s;"
        f" {reconnected} of {CLIENTS} streams were reopened, the rest were held by the web"
    )
    for each in crowd.clients:
        assert each.ready_id is not None
        expected = log_ids_of(log, user.id, each.ready_id, final_id)
        received = [entry_id for entry_id in each.task_ids if entry_id in set(expected)]
        assert received == expected, "an event in the log was missed or came twice"


def _seconds_until(check: Callable[[], bool], since: float) -> float:
    wait_until(check, "a reconnection", 60, pause=0.05)
    return time.monotonic() - since


def _web_serves_streams(stack: Stack, user: Account) -> bool:
    """The web reads Redis again: a fresh stream opens with its `ready` event."""
    try:
        with httpx.stream(
            "GET", f"{stack.url}/api/events", headers=user.bearer, timeout=2
        ) as response:
            for line in response.iter_lines():
                if line.startswith("event: ready"):
                    return True
    except httpx.HTTPError:
        return False
    return False


def _worker_wrote_since(client: Redis, wall_clock: float) -> bool:
    """The worker writes to Redis again: a task event newer than the restart is in the log."""
    try:
        entries = client.xrevrange(STREAM_KEY, count=50)
    except RedisError:
        return False
    for entry_id, fields in entries:  # type: ignore[union-attr]
        event = parse_entry(entry_id, fields)
        if event.type == EventType.TASK and event.id and id_key(event.id)[0] >= wall_clock * 1000:
            return True
    return False


def test_the_worker_outlives_a_redis_outage_with_a_task_running(
    stack: Stack, engine: Engine, broker_url: str | None
) -> None:
    """kombu hands a running task's message back when its connection drops, which it cannot do
    with Redis away; closing the broken connection then tried again on a transport it had let
    go of, and the worker's main process shut down on the AttributeError once its running task
    ended (QA finding: Redis stopped from the Processes page for a few seconds)."""
    if broker_url:  # the session's worker shares that broker and could take the task
        pytest.skip("a failure of kombu's Redis transport: here RabbitMQ is the broker")
    user = make_user(engine, prefix="outage")
    (running,) = submit(stack, user, 1, 3)
    wait_until(lambda: stack.states(user, [running]) == ["PROGRESS"], "the task to start", 30)
    assert stack.redis.pid is not None
    os.kill(stack.redis.pid, signal.SIGKILL)
    time.sleep(2)
    stack.redis.start()
    wait_until(lambda: stack.states(user, [running]) == ["SUCCESS"], "the task to end", 60)
    (after,) = submit(stack, user, 1, 0)  # the same worker, still taking work
    wait_until(lambda: stack.states(user, [after]) == ["SUCCESS"], "a task after the outage", 60)
    assert stack.worker.running()
    log = stack.worker.log_path.read_text(errors="replace")
    assert "Unrecoverable error" not in log, stack.worker.log_tail()
    with Redis.from_url(stack.redis.url) as client:
        # Acknowledged: nothing is left for a sweep to hand back later.
        assert client.hlen(UNACKED_KEY) == 0 and client.zcard(UNACKED_INDEX_KEY) == 0
