"""Follows the JSON event stream (`GET /api/events`) for the terminal client, resuming on drops.

The wire format, the resume position and the reconnect policy live here, apart from the
command loop, because they are pure logic that tests can feed line by line without a server.
The server gives every task event its event-log id and, to a reconnect that names the last
id it saw (Last-Event-ID), sends exactly the events after it; so remembering that id, and
moving it only when a message is complete, is all it takes for a dropped connection to lose
nothing and repeat nothing.
"""

import asyncio
from collections.abc import Callable
from dataclasses import dataclass

import httpx

EVENTS_PATH = "/api/events"
# The server pings every 15 s, so a read that waits much longer means the connection is dead.
STREAM_TIMEOUT = httpx.Timeout(10.0, read=45.0)
FIRST_RETRY_SECONDS = 0.5
LONGEST_RETRY_SECONDS = 15.0
# Answers that another try cannot change: not logged in (or a revoked token), forbidden, gone.
REFUSALS = frozenset({401, 403, 404, 410})
# The server's last message on a stream whose login has ended: a reconnect would be refused.
LOGIN_ENDED = "login-ended"


@dataclass(frozen=True)
class SseMessage:
    event: str
    data: str
    # The stream's last event id when this message was dispatched (the spec's lastEventId).
    id: str | None


class SseParser:
    """Server-sent events, one line at a time, as the WHATWG EventSource algorithm reads them.

    `last_event_id` moves only when a message is complete (at its blank line), so a message
    cut off by a dropped connection never counts as received.
    """

    def __init__(self, last_event_id: str | None = None) -> None:
        self.last_event_id = last_event_id
        self._id_buffer = last_event_id
        self._event = ""
        self._data: list[str] = []

    def feed(self, line: str) -> SseMessage | None:
        """Takes one line (without its line break); returns a message when one is complete."""
        if not line:
            return self._dispatch()
        if line.startswith(":"):
            return None  # a comment: the server's keep-alive ping
        name, colon, value = line.partition(":")
        if colon and value.startswith(" "):
            value = value[1:]
        if name == "event":
            self._event = value
        elif name == "data":
            self._data.append(value)
        elif name == "id" and "\0" not in value:
            self._id_buffer = value or None  # an empty id means "forget where I am"
        return None  # `retry` is ignored: the client keeps its own backoff

    def _dispatch(self) -> SseMessage | None:
        self.last_event_id = self._id_buffer
        message = None
        if self._data:
            message = SseMessage(self._event or "message", "\n".join(self._data), self._id_buffer)
        self._event, self._data = "", []
        return message


class Backoff:
    """Delays between reconnects: doubling from the first to the longest, reset on success."""

    def __init__(
        self, first: float = FIRST_RETRY_SECONDS, longest: float = LONGEST_RETRY_SECONDS
    ) -> None:
        self._first = first
        self._longest = longest
        self._next = first

    def next_delay(self) -> float:
        delay = self._next
        self._next = min(self._next * 2, self._longest)
        return delay

    def reset(self) -> None:
        self._next = self._first


class StreamRefused(Exception):
    """The server refused the stream in a way retrying cannot change (e.g. a revoked token)."""


class EventFollower:
    """Reads the event stream until cancelled or refused, reconnecting with backoff.

    `on_message` gets every complete message; `on_status` gets a line for the person at the
    terminal when the connection is lost, comes back, or is refused for good.
    """

    def __init__(
        self,
        http: httpx.AsyncClient,
        on_message: Callable[[SseMessage], None],
        on_status: Callable[[str], None],
        backoff: Backoff | None = None,
    ) -> None:
        self.last_event_id: str | None = None
        # Set once the first connection sends anything: the server has subscribed us by then.
        self.connected = asyncio.Event()
        self._http = http
        self._on_message = on_message
        self._on_status = on_status
        self._backoff = backoff or Backoff()
        self._lost = False

    async def run(self) -> None:
        while True:
            try:
                await self._follow_once()
                problem = "the server ended the stream"
            except StreamRefused as refused:
                self._on_status(f"event stream refused: {refused}")
                return
            except httpx.HTTPError as error:
                problem = describe_http_error(error)
            delay = self._backoff.next_delay()
            if not self._lost:  # one line per outage, not one per attempt
                self._on_status(f"event stream lost ({problem}); reconnecting")
                self._lost = True
            await asyncio.sleep(delay)

    async def _follow_once(self) -> None:
        headers = {"Accept": "text/event-stream", "Cache-Control": "no-cache"}
        if self.last_event_id:
            headers["Last-Event-ID"] = self.last_event_id
        request = self._http.stream("GET", EVENTS_PATH, headers=headers, timeout=STREAM_TIMEOUT)
        async with request as response:
            await _check_status(response)
            # A fresh parser per connection: a half-received message is dropped, the id is kept.
            parser = SseParser(self.last_event_id)
            async for line in response.aiter_lines():
                self._mark_connected()
                message = parser.feed(line)
                self.last_event_id = parser.last_event_id
                if message is not None and message.event == LOGIN_ENDED:
                    raise StreamRefused("this login has ended (logged out, or its token revoked)")
                if message is not None:
                    self._on_message(message)

    def _mark_connected(self) -> None:
        if self.connected.is_set() and not self._lost:
            return
        self.connected.set()
        self._backoff.reset()
        if self._lost:
            self._lost = False
            self._on_status("event stream reconnected")


async def _check_status(response: httpx.Response) -> None:
    if response.status_code in REFUSALS:
        await response.aread()
        raise StreamRefused(f"{response.status_code} {detail_of(response)}")
    response.raise_for_status()  # anything else (a 502 from a proxy, a 503) is worth a retry


def detail_of(response: httpx.Response) -> str:
    """The server's `detail` as text, whatever shape it has; else the reason phrase."""
    try:
        detail = response.json().get("detail")
    except (ValueError, AttributeError):
        detail = None
    if isinstance(detail, list):
        return "; ".join(_field_message(item) for item in detail)
    return str(detail) if detail else response.reason_phrase


def _field_message(item: object) -> str:
    if not isinstance(item, dict):
        return str(item)
    location = item.get("loc") or []
    field = str(location[-1]) if location else "request"
    message = str(item.get("msg", "is invalid")).removeprefix("Value error, ")
    return f"{field}: {message}"


def describe_http_error(error: httpx.HTTPError) -> str:
    if isinstance(error, httpx.HTTPStatusError):
        return f"{error.response.status_code} {error.response.reason_phrase}"
    return str(error) or type(error).__name__
