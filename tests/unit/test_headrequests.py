"""HEAD answered as GET, through ASGI: the same status and headers, no body, and the
application stopped at its first body message however long its answer would have been."""

from typing import Any

import anyio
from starlette.types import Message, Receive, Scope, Send

from dashboard.headrequests import HeadAsGet
from tests.aio import run


def http_scope(method: str) -> Scope:
    return {"type": "http", "method": method, "path": "/", "headers": []}


class EndlessAnswer:
    """An application whose answer never ends (an event stream), sending from a task group
    as Starlette's streaming responses do."""

    def __init__(self) -> None:
        self.methods_seen: list[str] = []
        self.chunks_sent = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.methods_seen.append(scope["method"])
        headers = [(b"content-type", b"text/event-stream")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        async with anyio.create_task_group() as group:
            group.start_soon(self.stream, send)

    async def stream(self, send: Send) -> None:
        while self.chunks_sent < 1000:  # bounded, in case the layer failed to stop it
            self.chunks_sent += 1
            await send({"type": "http.response.body", "body": b"data: x\n\n", "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": False})


def serve(method: str, app: EndlessAnswer) -> list[Message]:
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    run(HeadAsGet(app)(http_scope(method), receive, send))
    return sent


def test_head_runs_as_get_and_ends_after_the_headers() -> None:
    app = EndlessAnswer()
    sent = serve("HEAD", app)
    assert app.methods_seen == ["GET"]
    assert [message["type"] for message in sent] == ["http.response.start", "http.response.body"]
    assert sent[0]["status"] == 200 and sent[0]["headers"] == [
        (b"content-type", b"text/event-stream")
    ]
    assert sent[1] == {"type": "http.response.body", "body": b"", "more_body": False}
    assert app.chunks_sent == 1  # stopped at its first body message


def test_other_methods_pass_untouched() -> None:
    app = EndlessAnswer()
    sent: list[Any] = serve("GET", app)
    assert app.methods_seen == ["GET"] and app.chunks_sent == 1000
    assert len(sent) == 1002 and sent[-1]["more_body"] is False
