"""A small server-sent-events reader for tests: parses the stream and stops on a deadline."""

import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpx


@dataclass
class Message:
    event: str
    data: str
    id: str | None

    def json(self) -> Any:
        return json.loads(self.data)


def parse(lines: Iterator[str]) -> Iterator[Message]:
    event, data, entry_id = "message", [], None
    for line in lines:
        if not line:
            if data:
                yield Message(event, "\n".join(data), entry_id)
            event, data, entry_id = "message", [], None
            continue
        field, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if field == "event":
            event = value
        elif field == "data":
            data.append(value)
        elif field == "id":
            entry_id = value


class Stream:
    def __init__(self, response: httpx.Response) -> None:
        self.response = response
        self._messages = parse(response.iter_lines())

    def read_until(
        self, done: Callable[[list[Message]], bool], timeout: float, *, events: tuple[str, ...]
    ) -> list[Message]:
        """Messages of the given event names, until `done(messages)` holds or time runs out.

        Host events arrive every second, so the deadline is checked at least that often."""
        deadline = time.monotonic() + timeout
        collected: list[Message] = []
        for message in self._messages:
            if message.event in events:
                collected.append(message)
                if done(collected):
                    return collected
            if time.monotonic() >= deadline:
                break
        raise TimeoutError(f"stream ended or timed out; got {[m.event for m in collected]}")

    def read_to_end(self, timeout: float, *, events: tuple[str, ...]) -> list[Message]:
        """Messages of the given event names until the server ends the stream."""
        deadline = time.monotonic() + timeout
        collected: list[Message] = []
        for message in self._messages:
            if message.event in events:
                collected.append(message)
            if time.monotonic() >= deadline:
                raise TimeoutError(f"the stream did not end; got {[m.event for m in collected]}")
        return collected


@contextmanager
def open_stream(
    client: httpx.Client, path: str, headers: dict[str, str] | None = None
) -> Iterator[Stream]:
    timeout = httpx.Timeout(10, read=30)
    with client.stream("GET", path, headers=headers or {}, timeout=timeout) as response:
        response.raise_for_status()
        yield Stream(response)


def task_states(messages: list[Message], task_id: str) -> list[str]:
    return [m.json()["state"] for m in messages if m.event == "task" and m.json()["id"] == task_id]
