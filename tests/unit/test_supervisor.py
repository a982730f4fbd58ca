"""The supervisor, on tiny fake children instead of the app.

Where signals are involved the supervisor runs in its own process (DRIVER below), as it does
for real. The fake children write what happens to them to an events file, so the tests assert
on order and outcome, never on durations. Every wait is bounded.
"""

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil
import pytest

from dashboard import control
from dashboard.supervisor import (
    RESTORED_SIGNALS,
    Backoff,
    ChildSpec,
    Supervisor,
    describe_status,
    spawn,
)

WAIT_SECONDS = 30.0

# argv: name, events file, mode (plain | crash | stubborn | grandchild)
FAKE_CHILD = """
import os, signal, subprocess, sys, time

name, events, mode = sys.argv[1:4]

def note(what, pid=None):
    with open(events, "a") as file:
        file.write(f"{what} {name} {pid or os.getpid()}\\n")

def on_term(signum, frame):
    note("term")
    if mode != "stubborn":
        sys.exit(0)

signal.signal(signal.SIGTERM, on_term)
if mode == "grandchild":
    sleeper = "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(300)"
    note("grandchild", subprocess.Popen([sys.executable, "-c", sleeper]).pid)
note("start")
print(f"{name} says hello", flush=True)
if mode == "crash":
    sys.exit(3)
while True:
    time.sleep(0.1)
"""

DRIVER = """
import json, logging, signal, sys
from pathlib import Path
from dashboard.supervisor import Backoff, ChildSpec, Supervisor

logging.basicConfig(level=logging.INFO, format="%(message)s")
config = json.loads(sys.argv[1])
control = Path(config["control"]) if config.get("control") else None
with Supervisor(backoff=Backoff(**config["backoff"]), control_path=control) as supervisor:
    for child in config["children"]:
        stop = tuple((signal.Signals[name], timeout) for name, timeout in child["stop"])
        spec = ChildSpec(child["name"], child["argv"], stop=stop, stoppable=child["stoppable"])
        supervisor.start(spec)
    sys.exit(supervisor.run())
"""

FAST_BACKOFF = {"initial": 0.05, "maximum": 0.2, "reset_after": 60.0}


def wait_until(predicate: Callable[[], bool], what: str, timeout: float = WAIT_SECONDS) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(0.05)


def gone(pid: int) -> bool:
    """Dead, counting a zombie that only waits for whoever adopted it to reap it."""
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


@dataclass
class Tree:
    """A supervisor process and the events its fake children report."""

    events_file: Path
    log_file: Path
    process: subprocess.Popen[bytes] | None = None
    seen_pids: set[int] = field(default_factory=set)

    def child(
        self, name: str, mode: str = "plain", stop: float = 10.0, stoppable: bool = True
    ) -> dict[str, Any]:
        argv = [sys.executable, "-c", FAKE_CHILD, name, str(self.events_file), mode]
        return {"name": name, "argv": argv, "stop": [["SIGTERM", stop]], "stoppable": stoppable}

    def start(
        self,
        children: list[dict[str, Any]],
        backoff: dict[str, float],
        control: Path | None = None,
    ) -> None:
        config = json.dumps(
            {"children": children, "backoff": backoff, "control": str(control or "")}
        )
        with self.log_file.open("wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-c", DRIVER, config], stderr=log, stdout=log
            )

    def events(self, what: str | None = None, name: str | None = None) -> list[tuple[str, int]]:
        """(name, pid) of each matching event, in order."""
        if not self.events_file.exists():
            return []
        lines = self.events_file.read_text().splitlines()
        fields = [line.split() for line in lines]
        rows = [(w, n, int(pid)) for w, n, pid in (f for f in fields if len(f) == 3)]
        self.seen_pids.update(pid for _, _, pid in rows)
        return [
            (n, pid)
            for w, n, pid in rows
            if (what is None or w == what) and (name is None or n == name)
        ]

    def pids(self, what: str, name: str) -> list[int]:
        return [pid for _, pid in self.events(what, name)]

    def wait_events(self, what: str, name: str, count: int = 1) -> list[int]:
        wait_until(lambda: len(self.pids(what, name)) >= count, f"{count} x '{what} {name}'")
        return self.pids(what, name)

    def signal(self, signum: signal.Signals) -> None:
        assert self.process is not None
        self.process.send_signal(signum)

    def wait_exit(self) -> int:
        assert self.process is not None
        return self.process.wait(timeout=WAIT_SECONDS)

    def log(self) -> str:
        return self.log_file.read_text()

    def cleanup(self) -> None:
        """Whatever a failed test left running goes, so no test leaks processes."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=WAIT_SECONDS)
        self.events()
        for pid in self.seen_pids:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)


@pytest.fixture
def tree(tmp_path: Path) -> Iterator[Tree]:
    harness = Tree(events_file=tmp_path / "events", log_file=tmp_path / "supervisor.log")
    yield harness
    harness.cleanup()


def test_backoff_doubles_up_to_the_maximum_and_resets_after_a_long_run() -> None:
    backoff = Backoff(initial=1.0, maximum=30.0, reset_after=60.0)
    delays = [0.0]
    for _ in range(7):
        delays.append(backoff.next_delay(delays[-1], uptime=0.5))
    assert delays[1:] == [1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0]
    assert backoff.next_delay(30.0, uptime=60.0) == 1.0


def test_describe_status_names_signals_and_exit_codes() -> None:
    assert describe_status(-signal.SIGKILL) == "signal SIGKILL"
    assert describe_status(3) == "exit code 3"
    assert describe_status(None) == "unknown status"
    assert describe_status(-(signal.SIGRTMIN + 1)) == f"signal {signal.SIGRTMIN + 1}"


def test_spawn_puts_the_child_in_its_own_process_group() -> None:
    process = spawn([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        assert os.getpgid(process.pid) == process.pid != os.getpgid(0)
    finally:
        process.kill()
        process.wait(timeout=WAIT_SECONDS)


def ignored_signals(status: str) -> set[int]:
    """The signals /proc/<pid>/status says are ignored (SigIgn: a hexadecimal mask)."""
    [mask] = [line.split()[1] for line in status.splitlines() if line.startswith("SigIgn:")]
    return {signum for signum in range(1, 65) if int(mask, 16) >> (signum - 1) & 1}


def test_a_child_gets_back_the_stop_signals_its_starter_ignored() -> None:
    """As when `make run &` runs in a script: the stop plan's SIGQUIT must still reach it."""
    saved = {signum: signal.signal(signum, signal.SIG_IGN) for signum in RESTORED_SIGNALS}
    try:
        child = spawn(["cat", "/proc/self/status"], capture=True)
        assert child.stdout is not None
        status = child.stdout.read().decode()
        child.wait(timeout=WAIT_SECONDS)
    finally:
        for signum, handler in saved.items():
            signal.signal(signum, handler)
    assert ignored_signals(status).isdisjoint(RESTORED_SIGNALS)


def test_wait_for_keeps_restarting_a_child_that_exits(tmp_path: Path) -> None:
    events = tmp_path / "events"
    argv = [sys.executable, "-c", FAKE_CHILD, "crasher", str(events), "crash"]
    backoff = Backoff(initial=0.01, maximum=0.05)

    def starts() -> int:
        return events.read_text().count("start") if events.exists() else 0

    with Supervisor(backoff=backoff) as supervisor:
        supervisor.start(ChildSpec("crasher", argv))
        assert supervisor.wait_for(lambda: starts() >= 3, timeout=WAIT_SECONDS)
        assert not supervisor.wait_for(lambda: False, timeout=0.1)


def test_restarts_a_child_that_exits_with_growing_backoff(tree: Tree) -> None:
    tree.start([tree.child("crasher", "crash"), tree.child("steady")], FAST_BACKOFF)
    pids = tree.wait_events("start", "crasher", count=5)
    tree.signal(signal.SIGTERM)
    assert tree.wait_exit() == 0

    assert len(set(pids)) == len(pids)
    assert tree.pids("start", "steady")[:1] == tree.pids("start", "steady")  # never restarted
    log = tree.log()
    assert "crasher" in log and "exit code 3" in log
    delays = [line.rsplit(" ", 1)[1] for line in log.splitlines() if "restarting in" in line]
    assert delays[:4] == ["0.05s", "0.10s", "0.20s", "0.20s"]


def test_a_killed_child_is_restarted_and_its_grandchildren_go_with_it(tree: Tree) -> None:
    tree.start([tree.child("parent", "grandchild")], FAST_BACKOFF)
    [first] = tree.wait_events("start", "parent")
    [first_grandchild] = tree.pids("grandchild", "parent")

    os.kill(first, signal.SIGKILL)
    second = tree.wait_events("start", "parent", count=2)[1]
    second_grandchild = tree.pids("grandchild", "parent")[1]
    wait_until(lambda: gone(first_grandchild), "the first grandchild to be killed")
    assert second != first

    tree.signal(signal.SIGTERM)
    assert tree.wait_exit() == 0
    for pid in (first, first_grandchild, second, second_grandchild):
        assert gone(pid), pid


@pytest.mark.parametrize("stop_signal", [signal.SIGINT, signal.SIGTERM], ids=["INT", "TERM"])
def test_stops_children_in_reverse_start_order(tree: Tree, stop_signal: signal.Signals) -> None:
    names = ["redis", "worker", "web"]
    tree.start([tree.child(name) for name in names], FAST_BACKOFF)
    pids = [tree.wait_events("start", name)[0] for name in names]

    tree.signal(stop_signal)
    assert tree.wait_exit() == 0
    assert [name for name, _ in tree.events("term")] == ["web", "worker", "redis"]
    assert all(gone(pid) for pid in pids)
    assert "restarting" not in tree.log()


def test_kills_a_child_that_ignores_sigterm_after_its_timeout(tree: Tree) -> None:
    tree.start([tree.child("steady"), tree.child("stubborn", "stubborn", 2.0)], FAST_BACKOFF)
    [stubborn] = tree.wait_events("start", "stubborn")
    [steady] = tree.wait_events("start", "steady")

    tree.signal(signal.SIGTERM)
    assert tree.wait_exit() == 0
    assert tree.pids("term", "stubborn") == [stubborn]  # it was asked first
    assert gone(stubborn) and gone(steady)
    assert "did not stop in time" in tree.log()
    assert f"stubborn (pid {stubborn}) stopped with signal SIGKILL" in tree.log()


def test_follows_the_stop_plan_signal_by_signal(tree: Tree) -> None:
    child = tree.child("stubborn", "stubborn")
    child["stop"] = [["SIGTERM", 2.0], ["SIGQUIT", WAIT_SECONDS]]
    tree.start([child], FAST_BACKOFF)
    [pid] = tree.wait_events("start", "stubborn")

    tree.signal(signal.SIGTERM)
    assert tree.wait_exit() == 0
    assert tree.pids("term", "stubborn") == [pid]
    assert f"stubborn (pid {pid}) stopped with signal SIGQUIT" in tree.log()


def test_a_second_ctrl_c_kills_at_once(tree: Tree) -> None:
    # The stop timeout is far longer than the bounded wait for the supervisor to exit.
    tree.start([tree.child("stubborn", "stubborn", stop=10 * WAIT_SECONDS)], FAST_BACKOFF)
    [pid] = tree.wait_events("start", "stubborn")

    tree.signal(signal.SIGINT)
    tree.wait_events("term", "stubborn")
    tree.signal(signal.SIGINT)
    assert tree.wait_exit() == 0
    assert gone(pid)
    assert "second stop signal" in tree.log()


@pytest.mark.skipif(sys.platform != "linux", reason="PR_SET_PDEATHSIG is Linux only")
def test_children_of_a_sigkilled_supervisor_are_told_to_stop(tree: Tree) -> None:
    tree.start([tree.child("orphan")], FAST_BACKOFF)
    [pid] = tree.wait_events("start", "orphan")

    tree.signal(signal.SIGKILL)
    tree.wait_exit()
    tree.wait_events("term", "orphan")
    wait_until(lambda: gone(pid), "the orphan to exit")


def _status(socket_file: Path) -> dict[str, dict[str, Any]]:
    reply = control.request(socket_file, {"command": "status"})
    assert reply["ok"]
    return {process["name"]: process for process in reply["processes"]}


def _wait_state(socket_file: Path, name: str, state: str) -> dict[str, Any]:
    wait_until(lambda: _status(socket_file)[name]["state"] == state, f"{name} {state}")
    return _status(socket_file)[name]


def test_control_socket_reports_status_and_output(tree: Tree, tmp_path: Path) -> None:
    socket_file = tmp_path / "control.sock"
    tree.start([tree.child("a"), tree.child("b")], FAST_BACKOFF, control=socket_file)
    [a_pid] = tree.wait_events("start", "a")
    tree.wait_events("start", "b")
    wait_until(socket_file.exists, "the control socket")
    assert socket_file.stat().st_mode & 0o777 == 0o600
    status = _status(socket_file)
    assert list(status) == ["a", "b"]
    assert status["a"]["state"] == "running" and status["a"]["pid"] == a_pid
    wait_until(
        lambda: (
            "a says hello"
            in control.request(socket_file, {"command": "tail", "name": "a"})["lines"]
        ),
        "a's output",
    )
    tree.signal(signal.SIGTERM)
    assert tree.wait_exit() == 0
    assert not socket_file.exists()


def test_control_socket_stops_starts_and_restarts(tree: Tree, tmp_path: Path) -> None:
    socket_file = tmp_path / "control.sock"
    tree.start([tree.child("a"), tree.child("b")], FAST_BACKOFF, control=socket_file)
    [first_b] = tree.wait_events("start", "b")
    wait_until(socket_file.exists, "the control socket")

    assert control.request(socket_file, {"command": "stop", "name": "b"}) == {"ok": True}
    stopped = _wait_state(socket_file, "b", "stopped")
    assert stopped["pid"] is None and stopped["last_exit"] == "stopped on request"
    assert tree.pids("term", "b") == [first_b]
    time.sleep(0.5)  # ten times the restart backoff: a crashed child would be back by now
    assert tree.pids("start", "b") == [first_b], "a stopped child stays stopped"

    control.request(socket_file, {"command": "start", "name": "b"})
    [_, second_b] = tree.wait_events("start", "b", count=2)
    assert _wait_state(socket_file, "b", "running")["pid"] == second_b

    control.request(socket_file, {"command": "restart", "name": "a"})
    [first_a, second_a] = tree.wait_events("start", "a", count=2)
    assert tree.pids("term", "a") == [first_a] and second_a != first_a
    tree.signal(signal.SIGTERM)
    assert tree.wait_exit() == 0


def test_control_socket_refuses_what_it_cannot_do(tree: Tree, tmp_path: Path) -> None:
    socket_file = tmp_path / "control.sock"
    tree.start([tree.child("web", stoppable=False)], FAST_BACKOFF, control=socket_file)
    tree.wait_events("start", "web")
    wait_until(socket_file.exists, "the control socket")
    answers = [
        control.request(socket_file, {"command": "stop", "name": "web"}),
        control.request(socket_file, {"command": "stop", "name": "nobody"}),
        control.request(socket_file, {"command": "dance", "name": "web"}),
    ]
    assert [answer["ok"] for answer in answers] == [False, False, False]
    assert "cannot be stopped" in answers[0]["error"]
    assert "no process is named 'nobody'" in answers[1]["error"]
    assert "unknown command" in answers[2]["error"]
    assert _status(socket_file)["web"]["state"] == "running"
    tree.signal(signal.SIGINT)
    assert tree.wait_exit() == 0
