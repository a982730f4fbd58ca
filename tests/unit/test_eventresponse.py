"""The lean event-stream response, driven through ASGI's receive and send: a client that hangs
up, a client that takes nothing, HEAD, and a stream that ends (real uvicorn streams are in the
integration tests)."""

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sse_starlette.sse import SendTimeoutError

from dashboard.eventresponse import EventStreamResponse, SendWatch
from dashboard.events import Event, EventType
from tests.aio import run
from tests.streamdoubles import ALICE, Client, make_hub, scope, stream_response


def test_a_client_that_hangs_up_ends_its_stream_and_is_forgotten() -> None:
    hub = make_hub()
    client = Client()

    async def scenario() -> None:
        response = stream_response(hub)
        serving = asyncio.create_task(response(scope(), client.receive, client.send))
        await asyncio.wait_for(client.got_body.wait(), 5)
        hub.publish(Event(type=EventType.TASK, data={"n": 1}, owner_id=1, id="1-0"))
        await asyncio.sleep(0.01)
        client.gone.set()
        await asyncio.wait_for(serving, 5)  # ends by itself, no cancellation needed

    run(scenario())
    assert b"event: ready" in client.body() and b'data: {"n": 1}' in client.body()
    assert hub.connection_count == 0


def test_a_client_that_takes_nothing_is_dropped_after_the_send_timeout() -> None:
    hub = make_hub()
    cleaned_up: list[bool] = []

    async def endless() -> AsyncIterator[bytes]:
        try:
            while True:
                yield b"data: x\r\n\r\n"
        finally:
            cleaned_up.append(True)

    async def stuck_send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.body":
            await asyncio.sleep(60)  # a client whose socket buffer is full

    async def scenario() -> None:
        subscription = hub.subscribe(ALICE)
        watch = SendWatch(timeout=0.2)
        watching = asyncio.create_task(watch.run(interval=0.05))
        response = EventStreamResponse(endless(), hang_up=subscription.hang_up, watch=watch)
        with pytest.raises(SendTimeoutError):
            await asyncio.wait_for(response(scope(), Client().receive, stuck_send), 5)
        watching.cancel()

    run(scenario())
    assert cleaned_up == [True]
    assert hub.connection_count == 0


def test_a_slow_client_that_keeps_taking_is_not_dropped() -> None:
    """Only one send that waits the whole timeout drops a stream, not a slow stream as such."""
    hub = make_hub()
    client = Client()

    async def five_messages() -> AsyncIterator[bytes]:
        for number in range(5):
            yield f"data: {number}\r\n\r\n".encode()

    async def slow_send(message: dict[str, Any]) -> None:
        await asyncio.sleep(0.1)  # each send takes half the timeout; all five, more than it
        await client.send(message)

    async def scenario() -> None:
        subscription = hub.subscribe(ALICE)
        watch = SendWatch(timeout=0.2)
        watching = asyncio.create_task(watch.run(interval=0.02))
        response = EventStreamResponse(five_messages(), hang_up=subscription.hang_up, watch=watch)
        await asyncio.wait_for(response(scope(), client.receive, slow_send), 5)
        watching.cancel()
        assert not watch.watching()

    run(scenario())
    assert client.body() == b"".join(f"data: {n}\r\n\r\n".encode() for n in range(5))
    assert hub.connection_count == 0


def test_head_answers_headers_only_and_releases_the_subscription() -> None:
    hub = make_hub()
    client = Client()
    started: list[bool] = []

    async def never_started() -> AsyncIterator[bytes]:
        started.append(True)
        yield b""

    async def scenario() -> None:
        subscription = hub.subscribe(ALICE)
        response = EventStreamResponse(
            never_started(), hang_up=subscription.hang_up, watch=SendWatch(5)
        )
        await asyncio.wait_for(response(scope("HEAD"), client.receive, client.send), 5)

    run(scenario())
    assert [message["type"] for message in client.sent] == [
        "http.response.start",
        "http.response.body",
    ]
    assert client.body() == b"" and started == [] and hub.connection_count == 0


def test_a_stream_that_ends_completes_the_response() -> None:
    hub = make_hub()
    client = Client()

    async def two_messages() -> AsyncIterator[bytes]:
        yield b"data: 1\r\n\r\n"
        yield b"data: 2\r\n\r\n"

    async def scenario() -> None:
        subscription = hub.subscribe(ALICE)
        response = EventStreamResponse(
            two_messages(), hang_up=subscription.hang_up, watch=SendWatch(5)
        )
        await asyncio.wait_for(response(scope(), client.receive, client.send), 5)

    run(scenario())
    assert client.body() == b"data: 1\r\n\r\ndata: 2\r\n\r\n"
    assert client.sent[-1] == {"type": "http.response.body", "body": b"", "more_body": False}
    assert client.sent[0]["status"] == 200
    assert (b"content-type", b"text/event-stream; charset=utf-8") in client.sent[0]["headers"]
    assert hub.connection_count == 0
