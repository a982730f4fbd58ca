"""Long-lived streams leave the framework's layers once their response has started.

An ASGI request runs inside every layer that wraps the app: uvicorn's, FastAPI's and
Starlette's middleware, exception handlers, exit stacks, the router, the route. For a request
answered in milliseconds that costs nothing. An event stream holds all of it for as long as
its browser stays: about 15 suspended coroutines with their closures, exit stacks and a second
Request, 62 of a stream's 144 garbage-collected objects (counted at 1,000 streams), and each
message it sends passes three send wrappers that only watch for a response start.

So a stream opens the usual way: routing, dependencies (login, parameters), error handlers,
and its response start sent through every layer. Then its response hands the rest over
(`hand_over`): the app returns out of all its layers, which drop what they held, and the
outermost layer, `StreamHandover`, runs the body with the server's own receive and send. None
of the layers in between acts on a response body once it has started; errors in a started
response cannot become an error page either way, and reach the server as before.
"""

from typing import Protocol

from starlette.types import ASGIApp, Receive, Scope, Send

# The scope key under which the outermost layer offers a place to hand a stream over.
SLOT = "dashboard.handover"


class HandedOver(Protocol):
    async def finish(self, receive: Receive, send: Send) -> None:
        """Sends the rest of the response, straight to the server."""

    async def abandon(self) -> None:
        """Releases what the stream holds: the app failed after handing it over."""


def hand_over(scope: Scope, stream: HandedOver) -> bool:
    """Whether the outermost layer took the stream; if not, its response sends it in place."""
    slot = scope.get(SLOT)
    if slot is None or slot:
        return False
    slot.append(stream)
    return True


class StreamHandover:
    """The outermost layer: runs a handed-over stream once the app has returned."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        slot: list[HandedOver] = []
        # A scope of the request's own: what the layers store in it goes when they return.
        try:
            await self.app({**scope, SLOT: slot}, receive, send)
        except BaseException:
            for stream in slot:
                await stream.abandon()
            raise
        for stream in slot:
            await stream.finish(receive, send)
