"""`dashboard client` as a person at a pipe uses it, against the real web, worker and Redis."""

import contextlib
import os
import queue
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator

import pytest

from tests.accounts import PASSWORD, unique_email
from tests.integration.conftest import Worker
from tests.processes import REPO_ROOT

pytestmark = pytest.mark.integration

TASK_SECONDS = 60
EXIT_SECONDS = 10


class TerminalClient:
    """One `python -m dashboard client` with piped stdin and stdout, read on a thread."""

    def __init__(self, url: str) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "dashboard", "client", "--url", url],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,  # warnings land among the lines, where a failure shows them
            env=os.environ,
            cwd=REPO_ROOT,
            text=True,
            encoding="utf-8",
            errors="replace",
        )
        self.lines: list[str] = []
        self._arrived: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self._arrived.put(line.rstrip("\n"))
        self._arrived.put(None)

    def send(self, line: str) -> int:
        """Types a command; returns where its answer starts among the lines."""
        self._collect()
        assert self.process.stdin is not None
        self.process.stdin.write(line + "\n")
        self.process.stdin.flush()
        return len(self.lines)

    def wait_for(
        self, wanted: Callable[[str], bool], what: str, *, since: int = 0, timeout: float = 30
    ) -> str:
        """The first line from `since` on that is wanted, waiting up to `timeout` for it."""
        deadline = time.monotonic() + timeout
        checked = since
        while True:
            for line in self.lines[checked:]:
                if wanted(line):
                    return line
            checked = max(checked, len(self.lines))
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not self._take(remaining):
                output = "\n".join(self.lines)
                pytest.fail(
                    f"no line with {what} within {timeout:.0f} s; the client said:\n{output}"
                )

    def _take(self, timeout: float) -> bool:
        """Waits for one more line; False at end of output or when time runs out."""
        try:
            line = self._arrived.get(timeout=min(timeout, 1.0))
        except queue.Empty:
            return timeout > 1.0
        if line is None:
            return False
        self.lines.append(line)
        return True

    def settle(self, seconds: float = 1.0) -> list[str]:
        """Every line so far, after giving late ones a moment to arrive."""
        time.sleep(seconds)
        self._collect()
        return self.lines

    def _collect(self) -> None:
        with contextlib.suppress(queue.Empty):
            while (line := self._arrived.get_nowait()) is not None:
                self.lines.append(line)

    def say(self, command: str, answer: str, timeout: float = 30) -> str:
        """Sends a command and waits for the line that starts with its answer."""
        since = self.send(command)
        return self.wait_for(
            lambda line: line.startswith(answer), repr(answer), since=since, timeout=timeout
        )

    def start_task(self, command: str, kind: str) -> str:
        """Starts a task and waits for its SUCCESS line; returns the task's id."""
        started = self.say(command, f"started {kind} ")
        task_id = started.split()[-1]
        self.wait_for(
            lambda line: line.startswith(f"✓ {kind} {task_id[:8]} SUCCESS"),
            f"the SUCCESS of {kind} {task_id}",
            timeout=TASK_SECONDS,
        )
        return task_id

    def log_in_as_new_user(self) -> str:
        email = unique_email("client")
        self.say(f"register {email} {PASSWORD}", f"registered {email}")
        self.say(f"login {email} {PASSWORD}", f"logged in as {email}")
        return email

    def exit_code(self) -> int:
        return self.process.wait(EXIT_SECONDS)

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(EXIT_SECONDS)


@contextlib.contextmanager
def terminal_client(url: str) -> Iterator[TerminalClient]:
    client = TerminalClient(url)
    try:
        yield client
    finally:
        client.kill()


def test_a_session_from_register_to_exit(web: str, worker: Worker) -> None:
    with terminal_client(web) as client:
        client.log_in_as_new_user()
        demo_id = client.start_task("demo 0 succeed", "demo")
        pi_id = client.start_task("pi 100", "pi")

        since = client.send("tasks")
        for task_id in (demo_id, pi_id):
            client.wait_for(
                lambda line, short=task_id[:8]: line.startswith(short) and "SUCCESS" in line,
                f"{task_id} in the task list",
                since=since,
            )

        client.say("logout", "logged out")
        client.say("pi 5", "you are not logged in")
        client.send("exit")
        assert client.exit_code() == 0


def test_a_client_sees_only_its_own_users_tasks(web: str, worker: Worker) -> None:
    with terminal_client(web) as first, terminal_client(web) as second:
        first.log_in_as_new_user()
        second.log_in_as_new_user()
        first_task = first.start_task("demo 0 succeed", "demo")
        # The second client's own task, started after the first one ended, proves its stream
        # delivers: anything of the first user's would have come through before it.
        second_task = second.start_task("demo 0 succeed", "demo")

        assert not [line for line in second.settle() if first_task[:8] in line]
        assert not [line for line in first.settle() if second_task[:8] in line]
        first.send("exit")
        second.send("exit")
        assert first.exit_code() == 0
        assert second.exit_code() == 0
