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
import time
from collections import Counter
from collections.abc import Callable
from datetime import datetime

from redis.asyncio import Redis as AsyncRedis
from redis.exceptions import RedisError
from sse_starlette import ServerSentEvent

from dashboard import events
from dashboard.events import Audience, Event
from dashboard.models import utcnow

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


class ClientGone(Exception):
    """The client hung up: the stream ends without a word."""


class LoginEnded(Exception):
    """The login the stream was opened with has ended (logged out, token revoked, session
    expired): the stream says so and ends, and its client's reconnect is refused (401)."""


# A comment line: ignored by EventSource, but traffic that keeps proxies from closing the stream.
KEEP_ALIVE = ServerSentEvent(comment="ping").encode()
# What a subscription hands its stream: an event, or bytes to send as they are (a keep-alive).
Delivery = Outgoing | bytes


class Subscription:
    """One connection's waiting events: a plain list and, only while its stream waits, one
    future. (An asyncio.Queue costs four deques and an Event, about 3 KB, and even one empty
    deque 0.6 KB, where a connection may cost 30 KB in all. The list is short: popping its
    head is cheap.) Used on the event loop only."""

    def __init__(
        self,
        audience: Audience,
        on_end: Callable[["Subscription"], None],
        login: str = "",
        login_expires_at: datetime | None = None,
    ) -> None:
        self.audience = audience
        self.login = login
        self.login_expires_at = login_expires_at
        self._on_end = on_end
        self._pending: list[Delivery] = []
        self._waiter: asyncio.Future[None] | None = None
        self._overflowed = False
        self._ending: type[Exception] | None = None

    def __enter__(self) -> "Subscription":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.hang_up()

    def offer(self, outgoing: Outgoing) -> None:
        if outgoing.event.visible_to(self.audience):
            self.deliver(outgoing)

    def deliver(self, delivery: Delivery) -> None:
        if self._overflowed:
            return
        if len(self._pending) >= QUEUE_SIZE:
            self._overflowed = True
        else:
            self._pending.append(delivery)
        self._wake()

    async def next(self) -> Delivery:
        while True:
            if self._ending is not None:
                raise self._ending
            if self._pending:
                return self._pending.pop(0)
            if self._overflowed:
                raise SubscriberOverflow
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None

    def close(self) -> None:
        """The server is closing: the stream's next wait ends it with a goodbye."""
        self._end(ServerClosing)

    def end_login(self) -> None:
        self._end(LoginEnded)

    def hang_up(self) -> None:
        """The client has gone: the stream ends, and the hub forgets this connection."""
        self._end(ClientGone)
        self._on_end(self)

    def _end(self, ending: type[Exception]) -> None:
        if self._ending is None:
            self._ending = ending
        self._wake()

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)


class EventHub:
    def __init__(self, redis: AsyncRedis, formatters: dict[str, Formatter]) -> None:
        self.redis = redis
        self.formatters = formatters
        self.position = "0-0"
        self.latest: dict[str, Outgoing] = {}
        self._subscribers: set[Subscription] = set()
        # Open streams per user, so that one account cannot hold the process's memory.
        self._per_user: Counter[int] = Counter()
        self._closing = False
        self._last_broadcast = time.monotonic()

    @property
    def latest_host(self) -> Outgoing | None:
        return self.latest.get(events.EventType.HOST)

    @property
    def connection_count(self) -> int:
        return len(self._subscribers)

    def streams_of(self, user_id: int) -> int:
        """How many streams this user has open on this process."""
        return self._per_user[user_id]

    def subscribe(
        self, audience: Audience, login: str = "", login_expires_at: datetime | None = None
    ) -> Subscription:
        """A connection's subscription, receiving from now on; leaving its `with` block (or
        its client hanging up) ends it, and so does its login ending. Once the server is
        closing, it starts closed."""
        subscription = Subscription(
            audience, self._forget, login=login, login_expires_at=login_expires_at
        )
        self._subscribers.add(subscription)
        self._per_user[audience.user_id] += 1
        if self._closing:
            subscription.close()
        return subscription

    def _forget(self, subscription: Subscription) -> None:
        """Once per subscription, however often its end is reported."""
        if subscription in self._subscribers:
            self._subscribers.discard(subscription)
            user_id = subscription.audience.user_id
            self._per_user[user_id] -= 1
            if self._per_user[user_id] <= 0:
                del self._per_user[user_id]

    def publish(self, event: Event) -> Outgoing:
        outgoing = Outgoing(event, self.formatters)
        if event.type in KEPT_LATEST:
            self.latest[event.type] = outgoing
        if event.public:
            self._last_broadcast = time.monotonic()
        for subscription in list(self._subscribers):
            subscription.offer(outgoing)
        return outgoing

    def end_login(self, login: str) -> None:
        """Ends this process's streams opened with this login."""
        if not login:  # names no login: ends nothing (a stream opened without one included)
            return
        for subscription in list(self._subscribers):
            if subscription.login == login:
                subscription.end_login()

    async def end_expired_logins(self, interval: float) -> None:
        """Every `interval` seconds, ends the streams whose session has expired since: a
        stream is let in once, when it opens. One loop for all connections, as keep_alive."""
        while True:
            await asyncio.sleep(interval)
            now = utcnow()
            for subscription in list(self._subscribers):
                expires = subscription.login_expires_at
                if expires is not None and expires <= now:
                    subscription.end_login()

    def close_all(self) -> None:
        """The server is shutting down: every stream says goodbye, and so will new ones."""
        self._closing = True
        for subscription in list(self._subscribers):
            subscription.close()

    async def keep_alive(self, interval: float) -> None:
        """A comment to every connection whenever nothing has gone to all of them for
        `interval` seconds, so that proxies keep idle streams open. Host samples, once a
        second, usually make it needless. One loop for all connections: a timer per
        connection cost memory and a wake-up each."""
        while True:
            await asyncio.sleep(interval - (time.monotonic() - self._last_broadcast))
            if time.monotonic() - self._last_broadcast >= interval:
                self._last_broadcast = time.monotonic()
                for subscription in list(self._subscribers):
                    subscription.deliver(KEEP_ALIVE)

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
                if event.type == events.EventType.LOGIN_ENDED:
                    self.end_login(str(event.data.get("login", "")))
                else:
                    self.publish(event)

    async def _start_position(self) -> str:
        while True:
            try:
                return await events.last_id(self.redis)
            except (RedisError, OSError) as error:
                log.warning("event log unreachable at start (%s); retrying", error)
                await asyncio.sleep(1)
