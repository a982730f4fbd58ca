"""One reader of the event log per web process, fanning events out to its SSE connections.

However many browsers are connected, the process runs one blocking XREAD loop. Each event is
wrapped once in an `Outgoing`, which renders and encodes it at most once per format (HTML for
the page, JSON for the API) however many connections send it. A connection too slow to keep
up is not waited for: its queue overflows, its stream ends, and its browser reconnects and
resumes from the log by Last-Event-ID, so the slow client loses nothing and holds up no one
else.
"""

import asyncio
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress

from redis.asyncio import Redis as AsyncRedis
from redis.exceptions import RedisError
from sse_starlette import ServerSentEvent

from dashboard import events
from dashboard.events import Audience, Event

log = logging.getLogger(__name__)

Formatter = Callable[[Event], list[ServerSentEvent]]
QUEUE_SIZE = 2000
# Current state rather than history: the newest of each is sent to every new connection.
KEPT_LATEST = (events.EventType.HOST, events.EventType.FLEET)
# Well below the Redis client's socket timeout, so an idle log never looks like an outage.
BLOCK_MS = 2000


class Outgoing:
    def __init__(self, event: Event, formatters: dict[str, Formatter]) -> None:
        self.event = event
        self._formatters = formatters
        self._rendered: dict[str, list[ServerSentEvent]] = {}
        self._encoded: dict[str, bytes] = {}

    def rendered(self, format_name: str) -> list[ServerSentEvent]:
        if format_name not in self._rendered:
            self._rendered[format_name] = self._formatters[format_name](self.event)
        return self._rendered[format_name]

    def encoded(self, format_name: str) -> bytes:
        """The bytes on the wire, made once: a thousand connections send the same ones."""
        if format_name not in self._encoded:
            messages = self.rendered(format_name)
            self._encoded[format_name] = b"".join(message.encode() for message in messages)
        return self._encoded[format_name]


class SubscriberOverflow(Exception):
    """The connection fell too far behind; it should end and resume from the log."""


class ServerClosing(Exception):
    """The server is shutting down: the stream says goodbye and ends, and its client
    reconnects (to another replica, or to this one restarted) and resumes from the log."""


class Subscription:
    def __init__(self, audience: Audience) -> None:
        self.audience = audience
        # None wakes a waiting `next()` to find the stream closing.
        self._queue: asyncio.Queue[Outgoing | None] = asyncio.Queue(QUEUE_SIZE)
        self._overflowed = False
        self._closing = False

    def offer(self, outgoing: Outgoing) -> None:
        if self._overflowed or not outgoing.event.visible_to(self.audience):
            return
        try:
            self._queue.put_nowait(outgoing)
        except asyncio.QueueFull:
            self._overflowed = True

    async def next(self) -> Outgoing:
        if self._closing:
            raise ServerClosing
        if self._overflowed and self._queue.empty():
            raise SubscriberOverflow
        outgoing = await self._queue.get()
        if outgoing is None or self._closing:
            raise ServerClosing
        return outgoing

    def close(self) -> None:
        self._closing = True
        # A full queue means `next()` is not waiting: it sees the flag on its next call.
        with suppress(asyncio.QueueFull):
            self._queue.put_nowait(None)


class EventHub:
    def __init__(self, redis: AsyncRedis, formatters: dict[str, Formatter]) -> None:
        self.redis = redis
        self.formatters = formatters
        self.position = "0-0"
        self.latest: dict[str, Outgoing] = {}
        self._subscribers: set[Subscription] = set()

    @property
    def latest_host(self) -> Outgoing | None:
        return self.latest.get(events.EventType.HOST)

    @property
    def connection_count(self) -> int:
        return len(self._subscribers)

    @contextmanager
    def subscribe(self, audience: Audience) -> Iterator[Subscription]:
        subscription = Subscription(audience)
        self._subscribers.add(subscription)
        try:
            yield subscription
        finally:
            self._subscribers.discard(subscription)

    def publish(self, event: Event) -> Outgoing:
        outgoing = Outgoing(event, self.formatters)
        if event.type in KEPT_LATEST:
            self.latest[event.type] = outgoing
        for subscription in list(self._subscribers):
            subscription.offer(outgoing)
        return outgoing

    async def run(self) -> None:
        """Follows the log until cancelled; a Redis outage pauses it, never ends it."""
        self.position = await self._start_position()
        while True:
            try:
                batch = await events.wait_after(self.redis, self.position, block_ms=BLOCK_MS)
            except (RedisError, OSError) as error:
                log.warning("event log unreachable (%s); retrying", error)
                await asyncio.sleep(1)
                continue
            for event in batch:
                self.position = event.id or self.position
                self.publish(event)

    async def _start_position(self) -> str:
        while True:
            try:
                return await events.last_id(self.redis)
            except (RedisError, OSError) as error:
                log.warning("event log unreachable at start (%s); retrying", error)
                await asyncio.sleep(1)
