"""A bare SSE client for the benchmarks: one asyncio socket per stream, no HTTP library.

Thousands of httpx streams in one interpreter cost more CPU than the server they measure
(this machine has two cores), so the benchmarks' clients speak just enough HTTP themselves.
They ask in HTTP/1.0, so the answer comes unchunked and is read line by line until it ends.
"""

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass

STREAM_LIMIT = 2**20  # the page's first snapshot can be a long line


@dataclass
class Message:
    event: str
    data: str
    id: str | None


class StreamRefused(RuntimeError):
    """The server answered with something other than 200."""


async def open_stream(
    host: str, port: int, path: str, token: str
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    reader, writer = await asyncio.open_connection(host, port, limit=STREAM_LIMIT)
    request = (
        f"GET {path} HTTP/1.0\r\nHost: {host}:{port}\r\nAuthorization: Bearer {token}\r\n"
        "Accept: text/event-stream\r\n\r\n"
    )
    writer.write(request.encode())
    status = await reader.readline()
    if b" 200 " not in status:
        writer.close()
        raise StreamRefused(status.decode(errors="replace").strip() or "no answer")
    while (await reader.readline()).strip():
        pass  # the headers: nothing in them is needed here
    return reader, writer


async def messages(reader: asyncio.StreamReader) -> AsyncIterator[Message]:
    """The stream's messages until it ends (comments and pings are skipped)."""
    event, data, entry_id = "message", "", None
    while line := await reader.readline():
        text = line.decode().rstrip("\r\n")
        if not text:
            if data:
                yield Message(event, data, entry_id)
            event, data, entry_id = "message", "", None
        elif text.startswith("event:"):
            event = text[6:].strip()
        elif text.startswith("data:"):
            data = text[5:].lstrip() if not data else f"{data}\n{text[5:].lstrip()}"
        elif text.startswith("id:"):
            entry_id = text[3:].strip()
