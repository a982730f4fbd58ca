"""An event-stream response that costs a connection one small task besides its own.

sse-starlette's EventSourceResponse runs each stream in an anyio task group of four tasks
(the stream, its pings, a shutdown watch and a disconnect watch) and bounds each send with an
anyio cancel scope. At 5,000 connections that was about 24 KB of each connection's 52 KB
(tracemalloc), and a sixth of the time it takes to send one host sample to all of them.

This subclass keeps sse-starlette's headers, its encoding of messages and its answer to HEAD,
and runs the stream in the request's own task: each send bounded by `asyncio.timeout`, and one
small task waiting for the client to hang up. What the other tasks did is done once per
process instead, by the hub: keep-alive comments (`EventHub.keep_alive`) and the goodbye when
the server shuts down (`EventHub.close_all`, on sse-starlette's own shutdown signal).
"""

import asyncio
import logging
from collections.abc import AsyncIterable, AsyncIterator, Callable
from typing import Any

from sse_starlette import EventSourceResponse
from sse_starlette.event import ensure_bytes
from sse_starlette.sse import SendTimeoutError
from starlette.types import Message, Receive, Scope, Send

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
        send_timeout: float,
    ) -> None:
        # ping=0: no ping task; keep-alives come from the hub.
        super().__init__(content, ping=0, send_timeout=send_timeout)
        self._hang_up = hang_up

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] == "HEAD":
            try:
                await super().__call__(scope, receive, send)
            finally:
                self._hang_up()
            return
        listener = asyncio.ensure_future(self._until_hung_up(receive))
        try:
            await self._stream(send)
        finally:
            listener.cancel()
            self._hang_up()
            await _close(self.body_iterator)
        if self.background is not None:
            await self.background()

    async def _stream(self, send: Send) -> None:
        await self._send_with_timeout(
            send,
            {
                "type": "http.response.start",
                "status": self.status_code,
                "headers": self.raw_headers,
            },
        )
        async for data in self.body_iterator:
            body = ensure_bytes(data, self.sep)
            await self._send_with_timeout(
                send, {"type": "http.response.body", "body": body, "more_body": True}
            )
        await self._send_with_timeout(
            send, {"type": "http.response.body", "body": b"", "more_body": False}
        )

    async def _send_with_timeout(self, send: Send, message: Message) -> None:
        """sse-starlette's own, on asyncio's timeout instead of an anyio cancel scope: 4.7
        against 7.9 µs a send here, which at 5,000 streams is 15 ms of every broadcast. A
        client that takes nothing for `send_timeout` is dropped, not waited for."""
        try:
            async with asyncio.timeout(self.send_timeout):
                await send(message)
        except TimeoutError:
            raise SendTimeoutError() from None

    async def _until_hung_up(self, receive: Receive) -> None:
        while (await receive())["type"] != "http.disconnect":
            pass  # a GET has no body to read; anything else before the disconnect is ignored
        self._hang_up()


async def _close(iterator: AsyncIterable[Any]) -> None:
    """Runs the stream's cleanup now (it may be suspended at a yield), not when the garbage
    collector finds it."""
    aclose = getattr(iterator, "aclose", None)
    if aclose is None:
        return
    try:
        await aclose()
    except Exception:
        log.exception("closing an event stream failed")


async def goodbye_on_shutdown(hub: EventHub) -> None:
    """Has every stream say goodbye once the server starts to shut down. The signal is
    sse-starlette's own (uvicorn's exit flag, looked at twice a second), taken once per
    process rather than once per stream."""
    await EventSourceResponse._listen_for_exit_signal()
    hub.close_all()
