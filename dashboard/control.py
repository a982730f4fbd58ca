"""The supervisor's control channel: process status, start, stop, restart and log tails.

supervisord serves its web page and supervisorctl from one Unix socket; `dashboard run` does
the same, so the web can show the processes it runs and let a person stop, start and restart
them. One JSON object a line each way, one request per connection, answered at once (actions
are queued and carried out by the supervisor's loop). The socket is a file in the state
directory with mode 0600, so only the user running dashboard can use it. It does not go
through Redis on purpose: Redis is one of the processes it must be able to start.
"""

import contextlib
import json
import os
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal, get_args

Action = Literal["start", "stop", "restart"]
ACTIONS: tuple[Action, ...] = get_args(Action)
# How many lines of a process's output a tail request gets unless it asks for another number.
DEFAULT_TAIL_LINES = 200
SOCKET_NAME = "supervisor.sock"
MAX_REQUEST_BYTES = 4096
CLIENT_TIMEOUT_SECONDS = 3.0
# A peer gets this long to send its request line; the supervisor's loop waits for nobody.
SERVER_READ_SECONDS = 1.0
# AF_UNIX paths are limited to 108 bytes including the terminating NUL.
MAX_PATH_BYTES = 107

Handler = Callable[[dict[str, Any]], dict[str, Any]]


class ControlUnavailable(RuntimeError):
    """No supervisor answers on the socket (the web runs without `dashboard run`)."""


def socket_path(state_dir: Path) -> Path:
    return state_dir.resolve() / SOCKET_NAME


class ControlServer:
    """The listening end, owned by the supervisor; `serve_one()` when `fileno()` is readable."""

    def __init__(self, path: Path, handle: Handler) -> None:
        if len(os.fsencode(path)) > MAX_PATH_BYTES:
            raise ValueError(f"control socket path too long for AF_UNIX: {path}")
        self.path = path
        self._handle = handle
        with contextlib.suppress(FileNotFoundError):
            path.unlink()  # left by a supervisor that was killed
        self._socket = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._socket.bind(str(path))
        path.chmod(0o600)
        self._socket.listen(8)
        self._socket.setblocking(False)

    def fileno(self) -> int:
        return self._socket.fileno()

    def serve_one(self) -> None:
        try:
            connection, _ = self._socket.accept()
        except BlockingIOError:
            return
        with connection:
            connection.settimeout(SERVER_READ_SECONDS)
            try:
                reply = self._reply(_read_line(connection))
                connection.sendall(json.dumps(reply).encode() + b"\n")
            except OSError:
                return  # the peer went away or was too slow; it can ask again

    def _reply(self, raw: bytes) -> dict[str, Any]:
        try:
            request = json.loads(raw)
        except ValueError:
            return {"ok": False, "error": "not a JSON request"}
        if not isinstance(request, dict):
            return {"ok": False, "error": "a request is a JSON object"}
        return self._handle(request)

    def close(self) -> None:
        self._socket.close()
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()


def _read_line(connection: socket.socket) -> bytes:
    data = b""
    while b"\n" not in data and len(data) < MAX_REQUEST_BYTES:
        chunk = connection.recv(MAX_REQUEST_BYTES)
        if not chunk:
            break
        data += chunk
    return data.split(b"\n", 1)[0]


def request(path: Path, payload: dict[str, Any]) -> dict[str, Any]:
    """Sends one request to the supervisor and returns its answer."""
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as client:
            client.settimeout(CLIENT_TIMEOUT_SECONDS)
            client.connect(str(path))
            client.sendall(json.dumps(payload).encode() + b"\n")
            answer = _read_all(client)  # one reply, then the supervisor closes
    except OSError as error:
        raise ControlUnavailable(f"no supervisor answers on {path}: {error}") from error
    try:
        reply: dict[str, Any] = json.loads(answer)
    except ValueError as error:
        raise ControlUnavailable(f"the supervisor's answer is not JSON: {error}") from error
    return reply


def _read_all(client: socket.socket) -> bytes:
    chunks = []
    while chunk := client.recv(65536):
        chunks.append(chunk)
    return b"".join(chunks)
