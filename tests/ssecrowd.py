"""EventSource-like clients for tests: they reconnect with Last-Event-ID, as browsers do.

Each keeps the ids of the task events it received, so a test can compare them with the log.
"""

import asyncio
import contextlib
from dataclasses import dataclass, field

import httpx
from redis import Redis

from dashboard.events import STREAM_KEY, parse_entry

RETRY_SECONDS = 0.3


@dataclass
class Client:
    base_url: str
    headers: dict[str, str]
    ready_id: str | None = None
    last_id: str | None = None
    task_ids: list[str] = field(default_factory=list)
    connects: int = 0

    async def follow(self, stop: asyncio.Event) -> None:
        async with httpx.AsyncClient(
            base_url=self.base_url, timeout=httpx.Timeout(5, read=60)
        ) as http:
            while not stop.is_set():
                with contextlib.suppress(httpx.HTTPError):
                    await self._read(http, stop)
                await asyncio.sleep(RETRY_SECONDS)

    async def _read(self, http: httpx.AsyncClient, stop: asyncio.Event) -> None:
        headers = dict(self.headers)
        if self.last_id:
            headers["Last-Event-ID"] = self.last_id
        async with http.stream("GET", "/api/events", headers=headers) as response:
            response.raise_for_status()
            self.connects += 1
            event, entry_id = "message", None
            async for line in response.aiter_lines():
                if stop.is_set():
                    return
                if line.startswith("event:"):
                    event = line.partition(":")[2].strip()
                elif line.startswith("id:"):
                    entry_id = line.partition(":")[2].strip()
                elif not line:
                    self._take(event, entry_id)
                    event, entry_id = "message", None

    def _take(self, event: str, entry_id: str | None) -> None:
        if entry_id:
            self.last_id = entry_id
        if event == "ready" and self.ready_id is None:
            self.ready_id = entry_id
        elif event == "task" and entry_id:
            self.task_ids.append(entry_id)


@dataclass
class Crowd:
    clients: list[Client]
    stop: asyncio.Event = field(default_factory=asyncio.Event)


def run_crowd(crowd: Crowd, loop: asyncio.AbstractEventLoop) -> None:
    async def main() -> None:
        await asyncio.gather(*(client.follow(crowd.stop) for client in crowd.clients))

    loop.run_until_complete(main())


def log_ids_of(redis: Redis, user_id: int, after: str, until: str) -> list[str]:
    entries = redis.xrange(STREAM_KEY, min=f"({after}", max=until)
    events = [parse_entry(entry_id, fields) for entry_id, fields in entries]  # type: ignore[union-attr]
    return [event.id for event in events if event.owner_id == user_id and event.id]


def last_id_of(redis: Redis, user_id: int) -> str:
    entries = redis.xrevrange(STREAM_KEY, count=200)
    for entry_id, fields in entries:  # type: ignore[union-attr]
        event = parse_entry(entry_id, fields)
        if event.owner_id == user_id and event.id:
            return event.id
    raise AssertionError("no event of the user in the log")
