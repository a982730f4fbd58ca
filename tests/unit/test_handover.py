"""Streams handed out of the app's layers: the body goes straight to the server once the app
has returned, what the layers held is released, and a failure after the handover still ends
the stream (real uvicorn streams through the whole app are in the integration tests)."""

import asyncio
import gc
import weakref
from typing import Any

import pytest
from sse_starlette import ServerSentEvent
from starlette.types import Receive, Scope, Send

from dashboard.eventresponse import EventStreamResponse, SendWatch
from dashboard.events import Audience
from dashboard.handover import StreamHandover
from dashboard.hub import EventHub
from dashboard.streaming import JSON, event_stream, format_json
from tests.aio import run

ALICE = Audience(user_id=1)


class Server:
    """The server's side of one connection: what reached it, and a hang-up to trigger."""

    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []
        self.gone = asyncio.Event()
        self.ready = asyncio.Event()

    async def receive(self) -> dict[str, Any]:
        await self.gone.wait()
        return {"type": "http.disconnect"}

    async def send(self, message: dict[str, Any]) -> None:
        self.sent.append(message)
        if b"event: ready" in message.get("body", b""):
            self.ready.set()


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
        subscription = hub.subscribe(ALICE)
        stream = event_stream(
            hub, subscription, format_name=JSON, resume_from=None, snapshot=ready_only
        )
        response = EventStreamResponse(stream, hang_up=subscription.hang_up, watch=SendWatch(5))
        await response(scope, receive, send)

    return app


async def ready_only() -> list[ServerSentEvent]:
    return [ServerSentEvent(data="{}", event="ready")]


def scope() -> dict[str, Any]:
    return {"type": "http", "method": "GET", "path": "/api/events", "headers": []}


def test_the_body_goes_straight_to_the_server_after_the_layers_returned() -> None:
    hub = EventHub(redis=None, formatters={JSON: format_json})  # type: ignore[arg-type]
    layer = Layer(streaming_app(hub))
    server = Server()
    held_while_streaming: list[bool] = []

    async def scenario() -> None:
        serving = asyncio.create_task(StreamHandover(layer)(scope(), server.receive, server.send))
        await asyncio.wait_for(server.ready.wait(), 5)
        gc.collect()
        held_while_streaming.append(layer.held is not None and layer.held() is not None)
        server.gone.set()
        await asyncio.wait_for(serving, 5)

    run(scenario())
    # The layer saw the response begin, and nothing after: the body did not pass through it.
    assert layer.seen == ["http.response.start"]
    assert [m["type"] for m in server.sent[:2]] == ["http.response.start", "http.response.body"]
    assert server.sent[-1] == {"type": "http.response.body", "body": b"", "more_body": False}
    assert held_while_streaming == [False]
    assert hub.connection_count == 0


def test_a_failure_after_the_handover_releases_the_stream_unsent() -> None:
    hub = EventHub(redis=None, formatters={JSON: format_json})  # type: ignore[arg-type]
    streaming = streaming_app(hub)

    async def failing_on_the_way_out(scope: Scope, receive: Receive, send: Send) -> None:
        await streaming(scope, receive, send)
        assert hub.connection_count == 1  # handed over, not yet sent
        raise RuntimeError("a layer failed on the way out")

    server = Server()

    async def scenario() -> None:
        with pytest.raises(RuntimeError):
            handover = StreamHandover(failing_on_the_way_out)
            await asyncio.wait_for(handover(scope(), server.receive, server.send), 5)

    run(scenario())
    assert hub.connection_count == 0
    assert [m["type"] for m in server.sent] == ["http.response.start"]


def test_other_responses_pass_through_untouched() -> None:
    server = Server()

    async def plain(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    run(StreamHandover(plain)(scope(), server.receive, server.send))
    assert [m["type"] for m in server.sent] == ["http.response.start", "http.response.body"]
