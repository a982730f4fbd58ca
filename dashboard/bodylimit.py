"""Refuses request bodies larger than a limit with 413, before anything parses them.

Nothing the API or the forms take is more than a few hundred bytes, so a large body is a
mistake or an attack: it is refused by its declared Content-Length at once, and a body that
declares nothing (chunked) is counted as it arrives. At the limit the 413 is sent from here
and the application is told the client went away, so whatever it answers is dropped (raising
instead would let the framework turn it into a 400 about parsing).
"""

import json
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send


class BodySizeLimit:
    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if _declared_length(scope) > self.max_bytes:
            await refuse(send, self.max_bytes)
            return
        if not _may_have_body(scope):
            # Nothing to count (a GET, an event stream): no layer in the way of what it sends.
            await self.app(scope, receive, send)
            return
        guard = _Guard(receive, send, self.max_bytes)
        await self.app(scope, guard.receive, guard.send)


class _Guard:
    """Counts the body on its way in; once over the limit, answers 413 in the app's place."""

    def __init__(self, receive: Receive, send: Send, max_bytes: int) -> None:
        self._receive, self._send, self._max_bytes = receive, send, max_bytes
        self._seen = 0
        self._started = False
        self._refused = False

    async def receive(self) -> Message:
        if self._refused:
            return {"type": "http.disconnect"}
        message = await self._receive()
        self._seen += len(message.get("body", b""))
        if self._seen <= self._max_bytes:
            return message
        self._refused = True
        if not self._started:
            self._started = True
            await refuse(self._send, self._max_bytes)
        return {"type": "http.disconnect"}

    async def send(self, message: Message) -> None:
        if self._refused:
            return  # the 413 has been sent; what the app says now reaches no one
        self._started = self._started or message["type"] == "http.response.start"
        await self._send(message)


async def refuse(send: Send, max_bytes: int) -> None:
    body = json.dumps({"detail": f"the request body is larger than {max_bytes // 1024} KiB"})
    encoded = body.encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(encoded)).encode()),
        (b"connection", b"close"),
    ]
    await send({"type": "http.response.start", "status": 413, "headers": headers})
    await send({"type": "http.response.body", "body": encoded})


def _may_have_body(scope: Scope) -> bool:
    """A request without Content-Length or Transfer-Encoding has no body (RFC 9112, 6.3)."""
    headers: Any = scope.get("headers", [])
    return any(name in (b"content-length", b"transfer-encoding") for name, _ in headers)


def _declared_length(scope: Scope) -> int:
    headers: Any = scope.get("headers", [])
    for name, value in headers:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return 0
    return 0
