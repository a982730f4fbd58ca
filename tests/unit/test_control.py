"""The control channel's protocol: one JSON line each way over a private Unix socket."""

import select
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from dashboard import control
from dashboard.control import ControlServer, ControlUnavailable


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ControlServer]:
    """A server answering with what it was asked, in a thread, until the test ends."""
    done = threading.Event()

    def echo(request: dict[str, Any]) -> dict[str, Any]:
        answer = {"ok": True, "asked": request}
        return answer | {"text": "x" * 200_000} if request.get("long") else answer

    serving = ControlServer(tmp_path / "control.sock", echo)

    def loop() -> None:
        while not done.is_set():
            readable, _, _ = select.select([serving], [], [], 0.05)
            if readable:
                serving.serve_one()

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    yield serving
    done.set()
    thread.join(5)
    serving.close()


def test_a_request_gets_its_answer(server: ControlServer) -> None:
    assert control.request(server.path, {"command": "status"}) == {
        "ok": True,
        "asked": {"command": "status"},
    }


def test_a_long_answer_arrives_whole(server: ControlServer) -> None:
    assert control.request(server.path, {"long": True})["text"] == "x" * 200_000


def test_an_oversized_request_fails_and_the_server_carries_on(server: ControlServer) -> None:
    with pytest.raises(ControlUnavailable):
        control.request(server.path, {"command": "x" * 100_000})
    assert control.request(server.path, {"command": "status"})["ok"]


def test_garbage_gets_an_error_not_a_crash(server: ControlServer) -> None:
    for raw in (b"not json\n", b"[1, 2]\n"):
        with socket.socket(socket.AF_UNIX) as client:
            client.settimeout(5)
            client.connect(str(server.path))
            client.sendall(raw)
            answer = client.recv(4096)
        assert b'"ok": false' in answer
    assert control.request(server.path, {"command": "still there"})["ok"]


def test_the_socket_is_private(server: ControlServer) -> None:
    assert server.path.stat().st_mode & 0o777 == 0o600


def test_no_supervisor_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ControlUnavailable, match="no supervisor answers"):
        control.request(tmp_path / "missing.sock", {"command": "status"})


def test_a_path_too_long_for_a_unix_socket_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="too long"):
        ControlServer(tmp_path / ("x" * 120), lambda request: request)
