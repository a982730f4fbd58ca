"""What the unit tests of event streams share: a hub without Redis, a stream of it whose
snapshot is only `ready`, and the ASGI server's side of one connection."""

import asyncio
from typing import Any

from sse_starlette import ServerSentEvent

from dashboard.eventresponse import EventStreamResponse, SendWatch
from dashboard.events import Audience
from dashboard.hub import EventHub
from dashboard.streaming import JSON, event_stream, format_json

ALICE = Audience(user_id=1)


def make_hub() -> EventHub:
    return EventHub(redis=None, formatters={JSON: format_json})  # type: ignore[arg-type]


async def ready_only() -> list[ServerSentEvent]:
    return [ServerSentEvent(data="{}", event="ready")]


def stream_response(hub: EventHub) -> EventStreamResponse:
    """Alice's JSON stream, as the route makes it."""
    subscription = hub.subscribe(ALICE)
    stream = event_stream(
        hub, subscription, format_name=JSON, resume_from=None, snapshot=ready_only
    )
    return EventStreamResponse(stream, hang_up=subscription.hang_up, watch=SendWatch(5))


def scope(method: str = "GET") -> dict[str, Any]:
    return {"type": "http", "method": method, "path": "/api/events", "headers": []}


class Client:
    """The ASGI side of one connection: what was sent, and a hang-up to trigger."""

    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []
        self.gone = asyncio.Event()
        self.got_body = asyncio.Event()

    async def receive(self) -> dict[str, Any]:
        await self.gone.wait()
        return {"type": "http.disconnect"}

    async def send(self, message: dict[str, Any]) -> None:
        self.sent.append(message)
        if message.get("body"):
            self.got_body.set()

    def body(self) -> bytes:
        return b"".join(message.get("body", b"") for message in self.sent)
