"""One web server with several processes (WEB_CONCURRENCY=2, uvicorn's own workers) and many
SSE clients: every client gets each task event once, and each process keeps one Redis
reader and one host sampler however many clients it serves."""

import asyncio
import json
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

import httpx
import psutil
import pytest
from sqlalchemy import Engine

from tests.accounts import Account, make_user
from tests.processes import Service, answers, free_port, wait_until

pytestmark = [pytest.mark.integration, pytest.mark.same_on_every_path]
PROCESSES = 2
FEW, MANY = 2, 40
HOST_WINDOW_SECONDS = 3


@dataclass
class Listener:
    """A JSON stream reader keeping what it got: (event, id, data) in order."""

    url: str
    headers: dict[str, str]
    got: list[tuple[str, str | None, dict[str, object]]] = field(default_factory=list)
    ready: bool = False

    async def listen(self, stop: asyncio.Event) -> None:
        timeout = httpx.Timeout(5, read=30)
        async with (
            httpx.AsyncClient(timeout=timeout) as http,
            http.stream("GET", f"{self.url}/api/events", headers=self.headers) as response,
        ):
            event, entry_id = "message", None
            async for line in response.aiter_lines():
                if stop.is_set():
                    return
                key, _, value = line.partition(":")
                value = value.strip()
                if key == "event":
                    event = value
                elif key == "id":
                    entry_id = value
                elif key == "data":
                    self._take(event, entry_id, value)
                elif not line:
                    event, entry_id = "message", None

    def _take(self, event: str, entry_id: str | None, data: str) -> None:
        self.ready = self.ready or event == "ready"
        self.got.append((event, entry_id, json.loads(data) if data.startswith("{") else {}))


class Crowd:
    def __init__(self, url: str, user: Account) -> None:
        self.url, self.user = url, user
        self.listeners: list[Listener] = []
        self.stop = asyncio.Event()
        self.loop = asyncio.new_event_loop()
        threading.Thread(target=self.loop.run_forever, daemon=True).start()

    def add(self, count: int) -> None:
        for _ in range(count):
            listener = Listener(self.url, self.user.bearer)
            self.listeners.append(listener)
            asyncio.run_coroutine_threadsafe(listener.listen(self.stop), self.loop)
        wait_until(lambda: all(each.ready for each in self.listeners), "streams to open", 60)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.stop.set)
        self.loop.call_soon_threadsafe(self.loop.stop)


def redis_connections(processes: list[psutil.Process], redis_port: int) -> list[int]:
    return [
        sum(1 for c in process.net_connections("tcp") if c.raddr and c.raddr.port == redis_port)
        for process in processes
    ]


def test_many_clients_on_several_web_processes_share_one_reader_and_sampler_each(
    stack_env: dict[str, str], worker: object, engine: Engine, tmp_path: Path
) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {**stack_env, "PORT": str(port), "WEB_CONCURRENCY": str(PROCESSES)}
    web = Service("web", env, tmp_path).start()
    user = make_user(engine, prefix="crowd")
    crowd = Crowd(url, user)
    redis_port = int(urlparse(stack_env["REDIS_URL"]).port or 6379)
    try:
        wait_until(lambda: answers(f"{url}/healthz"), "the web", 60)
        wait_until(lambda: len(_servers(web)) == PROCESSES, "uvicorn's processes", 30)
        servers = _servers(web)
        crowd.add(FEW)
        with_few = redis_connections(servers, redis_port)
        crowd.add(MANY - FEW)
        with_many = redis_connections(servers, redis_port)
        task_id = _run_a_task(url, user)
        wait_until(
            lambda: all(_has_ending(each, task_id) for each in crowd.listeners),
            "every client to see the task end",
            60,
        )
        time.sleep(HOST_WINDOW_SECONDS)
    finally:
        crowd.close()
        web.stop()
    print(f"\nRedis connections per web process: {with_few} ({FEW} clients), {with_many} ({MANY})")
    assert with_many == with_few, "a web process opened Redis connections per client"
    for each in crowd.listeners:
        ids = [
            entry_id
            for event, entry_id, data in each.got
            if event == "task" and data.get("id") == task_id
        ]
        assert len(ids) >= 2 and len(ids) == len(set(ids)), "a task event came twice or not at all"
    samples = Counter(
        data["taken_at"]
        for each in crowd.listeners
        for event, _, data in each.got
        if event == "host"
    )
    # One sampler per process: a sample reaches every client of its process. A sampler per
    # client would make about one distinct sample per client per second.
    assert len(samples) <= PROCESSES * (HOST_WINDOW_SECONDS + 15)
    assert max(samples.values()) >= MANY / PROCESSES / 2


def _servers(web: Service) -> list[psutil.Process]:
    """uvicorn's worker processes, started by multiprocessing's spawn (not its resource
    tracker, nor the parent, which only hands them the socket)."""
    children = psutil.Process(web.pid).children()
    return [child for child in children if "spawn_main" in " ".join(child.cmdline())]


def _run_a_task(url: str, user: Account) -> str:
    body = {"seconds": 0.5, "should_fail": False}
    answer = httpx.post(f"{url}/api/tasks/demo", json=body, headers=user.bearer, timeout=10)
    assert answer.status_code == 202, answer.text
    task_id: str = answer.json()["id"]
    return task_id


def _has_ending(listener: Listener, task_id: str) -> bool:
    return any(
        event == "task" and data.get("id") == task_id and data.get("state") == "SUCCESS"
        for event, _, data in list(listener.got)
    )
