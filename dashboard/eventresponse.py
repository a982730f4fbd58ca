"""An event-stream response that costs a connection one small task besides its own.

sse-starlette's EventSourceResponse runs each stream in an anyio task group of four tasks
(the stream, its pings, a shutdown watch and a disconnect watch) and bounds each send with an
anyio cancel scope. At 5,000 connections that was about 24 KB of each connection's 52 KB
(tracemalloc), and a sixth of the time it takes to send one host sample to all of them.

This subclass keeps sse-starlette's headers, its encoding of messages and its answer to HEAD,
and runs the stream in the request's own task, with one small task waiting for the client to
hang up. What the other tasks and the timers did is done once per process instead: keep-alive
comments (`EventHub.keep_alive`), the goodbye when the server shuts down (`EventHub.close_all`,
on sse-starlette's own shutdown signal), and dropping a client that takes nothing (`SendWatch`).
Once its response has started, the stream leaves the app's layers (dashboard.handover).
"""

import asyncio
import logging
import time
from collections.abc import AsyncIterable, AsyncIterator, Callable
from typing import Any

from sse_starlette import EventSourceResponse
from sse_starlette.event import ensure_bytes
from sse_starlette.sse import SendTimeoutError
from starlette.types import Message, Receive, Scope, Send

from dashboard.handover import hand_over
from dashboard.hub import EventHub

log = logging.getLogger(__name__)


class EventStreamResponse(EventSourceResponse):
    """`hang_up` is called once the client has gone, and in any case when the response ends:
    it must end the stream (its pending wait) and release what the connection held."""

    def __init__(
        self,
        content: AsyncIterator[Any],
        *,
        hang_up: Callable[[], None],
        watch: "SendWatch",
    ) -> None:
        # ping=0: no ping task; keep-alives come from the hub.
        super().__init__(content, ping=0, send_timeout=watch.timeout)
        self._hang_up = hang_up
        self._watch = watch
        self._sending_since: float | None = None
        self._overdue = False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] == "HEAD":
            try:
                await super().__call__(scope, receive, send)
            finally:
                self._hang_up()
            return
        try:
            # Through every layer, which see a response begin as they would any other.
            await self._send_with_timeout(
                send,
                {
                    "type": "http.response.start",
                    "status": self.status_code,
                    "headers": self.raw_headers,
                },
            )
        except BaseException:
            await self.abandon()
            raise
        if not hand_over(scope, self):
            await self.finish(receive, send)

    async def finish(self, receive: Receive, send: Send) -> None:
        """The body, until the stream ends or its client goes; then the background task."""
        listener = asyncio.ensure_future(self._until_hung_up(receive))
        task = asyncio.current_task()
        self._watch.watch(self, task)
        try:
            await self._body(send)
        except asyncio.CancelledError:
            if not self._overdue or task is None:
                raise
            task.uncancel()  # the watch's cancellation, consumed here as a timeout
            raise SendTimeoutError(
                f"its client took nothing for {self._watch.timeout:g} s"
            ) from None
        finally:
            self._watch.forget(self)
            listener.cancel()
            await self.abandon()
        if self.background is not None:
            await self.background()

    async def abandon(self) -> None:
        """Ends the subscription and runs the stream's cleanup now (it may be suspended at a
        yield), not when the garbage collector finds it. Safe to call more than once."""
        self._hang_up()
        await _close(self.body_iterator)

    async def _body(self, send: Send) -> None:
        async for data in self.body_iterator:
            body = ensure_bytes(data, self.sep)
            await self._send_with_timeout(
                send, {"type": "http.response.body", "body": body, "more_body": True}
            )
        await self._send_with_timeout(
            send, {"type": "http.response.body", "body": b"", "more_body": False}
        )

    async def _send_with_timeout(self, send: Send, message: Message) -> None:
        """sse-starlette's own, without a timer: the send watch drops the stream if this send
        waits `send_timeout` (a client that takes nothing fills its socket's buffer, and the
        server's send waits for room)."""
        self._sending_since = time.monotonic()
        await send(message)
        self._sending_since = None

    def sending_since(self) -> float | None:
        return self._sending_since

    def mark_overdue(self) -> None:
        self._overdue = True

    async def _until_hung_up(self, receive: Receive) -> None:
        while (await receive())["type"] != "http.disconnect":
            pass  # a GET has no body to read; anything else before the disconnect is ignored
        self._hang_up()


async def _close(iterator: AsyncIterable[Any]) -> None:
    aclose = getattr(iterator, "aclose", None)
    if aclose is None:
        return
    try:
        await aclose()
    except Exception:
        log.exception("closing an event stream failed")


class SendWatch:
    """Drops streams whose client takes nothing for `timeout` seconds. One look a second at
    every stream's current send replaces a timer around each send (`asyncio.timeout` made and
    cancelled a timer per message: 13% of the web process's CPU at 5,000 streams). A stream
    found waiting too long has its task cancelled, which its response turns into sse-starlette's
    SendTimeoutError, as the timer did. Used on the event loop only."""

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self._streams: dict[EventStreamResponse, asyncio.Task[Any]] = {}

    def watch(self, stream: EventStreamResponse, task: "asyncio.Task[Any] | None") -> None:
        if task is not None:
            self._streams[stream] = task

    def forget(self, stream: EventStreamResponse) -> None:
        self._streams.pop(stream, None)

    def watching(self) -> int:
        return len(self._streams)

    async def run(self, interval: float = 1.0) -> None:
        """Until cancelled; a send is dropped between `timeout` and `timeout + interval`."""
        while True:
            await asyncio.sleep(interval)
            self.drop_overdue(time.monotonic() - self.timeout)

    def drop_overdue(self, cutoff: float) -> None:
        overdue = [
            stream
            for stream in self._streams
            if (since := stream.sending_since()) is not None and since <= cutoff
        ]
        for stream in overdue:
            stream.mark_overdue()
            self._streams.pop(stream).cancel()


class DroppedStreamFilter(logging.Filter):
    """uvicorn logs what an app raises as "Exception in ASGI application", with a traceback.
    A stream dropped because its client takes nothing (SendWatch) is routine, a laptop gone to
    sleep or a stalled proxy, and the traceback would only repeat this module's frames: such a
    record becomes one warning line. For the web's log handler (dashboard.cli)."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        if isinstance(error, SendTimeoutError):
            record.msg, record.args = "dropped an event stream: %s", (error,)
            record.levelno, record.levelname = logging.WARNING, "WARNING"
            record.exc_info, record.exc_text = None, None
        return True


async def goodbye_on_shutdown(hub: EventHub) -> None:
    """Has every stream say goodbye once the server starts to shut down. The signal is
    sse-starlette's own (uvicorn's exit flag, looked at twice a second), taken once per
    process rather than once per stream."""
    await EventSourceResponse._listen_for_exit_signal()
    hub.close_all()
