"""`dashboard client` on a terminal (a pseudo-terminal), against the real web, worker and
Redis: the line being typed survives the notifications printed above it, and readline edits
and recalls lines (QA: typed text vanished from the screen; Up was read as a command)."""

import os
import pty
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine

from tests.accounts import make_user
from tests.integration.conftest import Worker
from tests.processes import REPO_ROOT

pytestmark = pytest.mark.integration
WAIT_SECONDS = 30
# What a terminal would act on rather than show: colours, cursor moves, bracketed paste.
ESCAPES = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\r")


class Terminal:
    """The client on a pseudo-terminal, its screen output collected as text."""

    def __init__(self, url: str, token: str) -> None:
        self.master, slave = pty.openpty()
        env = {**os.environ, "DASHBOARD_TOKEN": token, "TERM": "xterm"}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "dashboard", "client", "--url", url],
            stdin=slave, stdout=slave, stderr=slave, env=env, cwd=REPO_ROOT,
            start_new_session=True,
        )  # fmt: skip
        os.close(slave)
        self.raw = b""
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        while True:
            try:
                chunk = os.read(self.master, 4096)
            except OSError:  # the client has exited and the terminal is gone
                return
            if not chunk:
                return
            self.raw += chunk

    @property
    def raw_text(self) -> str:
        return self.raw.decode(errors="replace")

    @property
    def text(self) -> str:
        return ESCAPES.sub("", self.raw_text)

    def type(self, keys: str) -> None:
        os.write(self.master, keys.encode())

    def wait_for(self, pattern: str, since: int = 0) -> int:
        """Waits until the screen shows `pattern` after character `since`; where it ends."""
        deadline = time.monotonic() + WAIT_SECONDS
        while time.monotonic() < deadline:
            found = re.compile(pattern).search(self.text, since)
            if found:
                return found.end()
            time.sleep(0.05)
        raise TimeoutError(f"no {pattern!r} on the screen:\n{self.text[-2000:]}")

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(10)
        os.close(self.master)


@pytest.fixture
def terminal(web: str, worker: Worker, engine: Engine) -> Iterator[Terminal]:
    screen = Terminal(web, make_user(engine, prefix="terminal").token)
    try:
        yield screen
    finally:
        screen.close()


def test_the_line_being_typed_stays_under_the_notifications(terminal: Terminal) -> None:
    terminal.wait_for(r"logged in as .*\n")
    terminal.type("demo 1 succeed\n")
    started = terminal.wait_for(r"▶ demo \w+ started")
    terminal.type("tas")  # no Enter: still being typed when the task ends
    ended = terminal.wait_for(r"✓ demo \w+ SUCCESS[^\n]*\n", started)
    terminal.wait_for(r"dashboard> tas", ended)  # put back under the notification
    terminal.type("ks\n")  # the line is whole: "tasks"
    listed = terminal.wait_for(r"ID +KIND +STATE", ended)
    terminal.type("\x1b[A\n")  # Up: the last command again
    terminal.wait_for(r"ID +KIND +STATE", listed)
    terminal.type("\x04")  # Ctrl-D: the end of input
    assert terminal.process.wait(10) == 0


def test_the_cursor_is_put_back_where_it_stood_in_the_line(terminal: Terminal) -> None:
    terminal.wait_for(r"logged in as .*\n")
    terminal.type("demo 1 succeed\n")
    started = terminal.wait_for(r"▶ demo \w+ started")
    terminal.type("tsks\x1b[D\x1b[D\x1b[D")  # three to the left: after the "t"
    ended = terminal.wait_for(r"✓ demo \w+ SUCCESS[^\n]*\n", started)
    time.sleep(0.3)  # the prompt and line are put back
    redrawn = len(terminal.raw)
    terminal.type("a\n")  # typed where the cursor stands: "tasks"
    terminal.wait_for(r"ID +KIND +STATE", ended)
    # The line and the cursor put back: three columns left of the line's end.
    assert "dashboard> tsks\x1b[3D" in terminal.raw[:redrawn].decode(errors="replace")
    terminal.type("exit\n")
    assert terminal.process.wait(10) == 0
