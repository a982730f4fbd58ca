"""Streams handed out of the app's layers: the body goes straight to the server once the app
has returned, what the layers held is released, and a failure after the handover still ends
the stream (real uvicorn streams through the whole app are in the integration tests)."""

import asyncio
import gc
import weakref
from typing import Any

import pytest
from starlette.types import Receive, Scope, Send

from dashboard.handover import StreamHandover
from dashboard.hub import EventHub
from tests.aio import run
from tests.streamdoubles import Client, make_hub, scope, stream_response


class Layer:
    """A middleware that wraps send, as Starlette's error handlers do, and holds some state of
    its own for the request (`held`) that should not outlive the app's return."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.seen: list[str] = []
        self.held: weakref.ref[object] | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        state = Held()
        self.held = weakref.ref(state)

        async def watching_send(message: dict[str, Any]) -> None:
            self.seen.append(message["type"])
            await send(message)

        scope["layer.state"] = state
        await self.app(scope, receive, watching_send)


class Held:
    pass


def streaming_app(hub: EventHub) -> Any:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await stream_response(hub)(scope, receive, send)

    return app


def test_the_body_goes_straight_to_the_server_after_the_layers_returned() -> None:
    hub = make_hub()
    layer = Layer(streaming_app(hub))
    client = Client()
    held_while_streaming: list[bool] = []

    async def scenario() -> None:
        serving = asyncio.create_task(StreamHandover(layer)(scope(), client.receive, client.send))
        await asyncio.wait_for(client.got_body.wait(), 5)
        gc.collect()
        held_while_streaming.append(layer.held is not None and layer.held() is not None)
        client.gone.set()
        await asyncio.wait_for(serving, 5)

    run(scenario())
    # The layer saw the response begin, and nothing after: the body did not pass through it.
    assert layer.seen == ["http.response.start"]
    assert [m["type"] for m in client.sent[:2]] == ["http.response.start", "http.response.body"]
    assert client.sent[-1] == {"type": "http.response.body", "body": b"", "more_body": False}
    assert held_while_streaming == [False]
    assert hub.connection_count == 0


def test_a_failure_after_the_handover_releases_the_stream_unsent() -> None:
    hub = make_hub()
    streaming = streaming_app(hub)

    async def failing_on_the_way_out(scope: Scope, receive: Receive, send: Send) -> None:
        await streaming(scope, receive, send)
        assert hub.connection_count == 1  # handed over, not yet sent
        raise RuntimeError("a layer failed on the way out")

    client = Client()

    async def scenario() -> None:
        with pytest.raises(RuntimeError):
            handover = StreamHandover(failing_on_the_way_out)
            await asyncio.wait_for(handover(scope(), client.receive, client.send), 5)

    run(scenario())
    assert hub.connection_count == 0
    assert [m["type"] for m in client.sent] == ["http.response.start"]


def test_other_responses_pass_through_untouched() -> None:
    client = Client()

    async def plain(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    run(StreamHandover(plain)(scope(), client.receive, client.send))
    assert [m["type"] for m in client.sent] == ["http.response.start", "http.response.body"]
