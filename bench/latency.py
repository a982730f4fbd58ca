"""Event latency: from the moment a task reports progress to the moment SSE clients have it.

One web process (`python -m dashboard web`, loopback) and N clients on its JSON stream, all as
the task's owner, in this process (uvloop, one bare socket each: bench.sseclient). Progress
events are published the way a worker publishes them (`runtime.publish_task`, an entry in the
Redis event log), each carrying the time it was published; every client notes when it parsed
it.
"""

import asyncio
import json
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import uvloop
from sqlmodel import Session

from bench import sseclient
from bench.stack import (
    Stack,
    dashboard_command,
    percentile,
    private_stack,
    process,
    use_stack,
    user_with_token,
    wait_for,
)

EVENTS = 100
EVENTS_PER_SECOND = 10
GOALS_MS = {100: 50.0, 1000: 100.0}
HOST = "127.0.0.1"


class Client:
    def __init__(self) -> None:
        self.ready = False
        self.latencies: list[float] = []

    async def follow(self, port: int, token: str) -> None:
        reader, writer = await sseclient.open_stream(HOST, port, "/api/events", token)
        try:
            async for message in sseclient.messages(reader):
                if message.event == "task":
                    self._take(message.data)
                elif message.event == "ready":
                    self.ready = True
        finally:
            writer.close()

    def _take(self, data: str) -> None:
        progress = json.loads(data).get("progress") or {}
        sent = progress.get("intermediate")
        if sent:
            self.latencies.append(time.time() - float(sent))


def owner_with_task(stack: Stack) -> tuple[str, Any]:
    """A user, their token, and the view of one running task of theirs."""
    from dashboard import crud, runtime
    from dashboard.models import TaskView

    user, token = user_with_token("latency")
    with Session(runtime.engine(), expire_on_commit=False) as session:
        row = crud.create_task(
            session,
            task_id=f"bench-{time.time_ns()}",
            kind="demo",
            params={"seconds": 10},
            owner_id=user.id,
        )
    return token, TaskView.from_row(row, owner=user.email)


async def publish(view: Any, count: int) -> None:
    from dashboard import runtime
    from dashboard.models import Progress, TaskState

    for number in range(count):
        progress = Progress(percent=100 * number / count, intermediate=repr(time.time()))
        runtime.publish_task(
            view.model_copy(update={"state": TaskState.PROGRESS, "progress": progress})
        )
        await asyncio.sleep(1 / EVENTS_PER_SECOND)


async def run_clients(port: int, token: str, view: Any, count: int) -> list[Client]:
    clients = [Client() for _ in range(count)]
    followers = [asyncio.create_task(client.follow(port, token)) for client in clients]
    deadline = time.monotonic() + 120
    while not all(client.ready for client in clients) and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
    await publish(view, EVENTS)
    await asyncio.sleep(2)
    for follower in followers:
        follower.cancel()
    await asyncio.gather(*followers, return_exceptions=True)
    return clients


def measure(work_dir: Path, client_counts: tuple[int, ...] = (100, 1000)) -> list[dict[str, Any]]:
    from dashboard.redisserver import free_port

    rows = []
    with private_stack(work_dir) as stack:
        use_stack(stack)
        token, view = owner_with_task(stack)
        port = free_port()
        env = stack.env(PORT=str(port), HOST="127.0.0.1")
        with process(dashboard_command("web"), env, work_dir / "web.log"):
            url = f"http://127.0.0.1:{port}"
            wait_for(lambda: _answers(f"{url}/healthz"), "the web", 60)
            for count in client_counts:
                clients = uvloop.run(run_clients(port, token, view, count))
                rows.append(_row(count, clients))
    return rows


def _row(count: int, clients: list[Client]) -> dict[str, Any]:
    latencies = [seconds * 1000 for client in clients for seconds in client.latencies]
    p50, p99 = percentile(latencies, 0.5), percentile(latencies, 0.99)
    goal = GOALS_MS.get(count, 100.0)
    return {
        "name": f"event latency, {count:,} SSE clients",
        "value": f"p99 {p99:.1f} ms (p50 {p50:.1f} ms)",
        "reference": f"{len(latencies):,} of {count * EVENTS:,} deliveries",
        "figure": round(p99, 2),
        "goal": f"p99 <= {goal:.0f} ms, every event delivered",
        "met": p99 <= goal and len(latencies) == count * EVENTS,
        "detail": {"p50_ms": p50, "p99_ms": p99, "deliveries": len(latencies)},
    }


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


if __name__ == "__main__":
    import tempfile

    counts = tuple(int(arg) for arg in sys.argv[1:]) or (100, 1000)
    with tempfile.TemporaryDirectory() as directory:
        print(json.dumps(measure(Path(directory), counts), indent=2))
