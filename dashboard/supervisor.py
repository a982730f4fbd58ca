"""A small process supervisor: what keeps redis, the worker and the web alive in `dashboard run`.

Each child runs in its own process group (``process_group=0``). Ctrl-C in a terminal sends
SIGINT to the whole foreground group: if the children shared the supervisor's group they
would all begin shutting down at once, in no order, and the web could still be serving while
Redis is already gone. In their own groups only the supervisor sees the Ctrl-C and stops them
one by one, last started first. The group is also the handle for cleaning up: Celery's prefork
pool processes and uvicorn's worker processes inherit it, so one ``killpg`` takes them all,
even when the child that started them has died.

Each child also gets ``PR_SET_PDEATHSIG`` (Linux): a supervisor killed with SIGKILL runs no
clean-up at all, so the kernel asks its children to shut down instead and nothing is orphaned.
The signal is the child's `orphaned_signal`: SIGTERM, or for the worker SIGKILL. With Redis
gone too, any shutdown of its own waits on its running tasks, which retry their writes for
minutes; killed, it takes its pool with it (Celery gives pool processes PDEATHSIG SIGKILL) and
the tasks' unacknowledged messages wait in Redis's files for the next start. The setting is
tied to the thread that forked the child, so children are started from the main thread only,
like the signal handling below.

A child's exit is noticed with ``waitid(..., WNOWAIT)``, which leaves it a zombie: its pid,
which is also its group id, cannot be reused by an unrelated process before the group has been
killed and the child reaped.

The loop sleeps in ``select`` on a ``signal.set_wakeup_fd`` socket: SIGCHLD (a child died) and
the stop signals wake it at once; otherwise it wakes only when a restart falls due.

Like supervisord, it can be asked over a control socket (dashboard.control) for the children's
status and output, and to stop, start or restart one. Each child's output goes through a pipe:
a thread copies it to this process's stderr (the terminal of `make run`) and keeps its last
lines for the page. Requested actions are queued and carried out by the loop itself, so a
stop that takes a while never runs inside a request, and status is still answered meanwhile.
"""

import contextlib
import ctypes
import logging
import os
import select
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType, TracebackType
from typing import IO, Any, Self

from dashboard.control import ACTIONS, DEFAULT_TAIL_LINES, ControlServer

log = logging.getLogger(__name__)

StopPlan = tuple[tuple[signal.Signals, float], ...]
DEFAULT_STOP: StopPlan = ((signal.SIGTERM, 10.0),)
# After SIGKILL a process is gone within milliseconds unless stuck in the kernel.
KILL_WAIT_SECONDS = 5.0
# A safety net only: signals wake the loop; this bounds a sleep if one were ever missed.
IDLE_WAKE_SECONDS = 5.0
# A shell starting a job in the background without job control (`make run &` in a script, a CI
# step) sets SIGINT and SIGQUIT to "ignore", which exec keeps: a child would then shrug off a
# stop plan's SIGQUIT, and the stop would wait out its time before the kill. Children get the
# default back; a program that wants them handles them itself, as Celery and uvicorn do.
RESTORED_SIGNALS = (signal.SIGINT, signal.SIGQUIT)
READY_POLL_SECONDS = 0.2
OUTPUT_LINES_KEPT = 1000

_PR_SET_PDEATHSIG = 1
# Looked up here, once: the hook that calls it runs between fork and exec, where loading a
# library could deadlock.
_prctl: Callable[..., int] | None = (
    ctypes.CDLL(None, use_errno=True).prctl if sys.platform == "linux" else None
)

Handler = Callable[[int, FrameType | None], Any] | int | None


@dataclass(frozen=True)
class ChildSpec:
    """One supervised child: the command that starts it and how to stop it.

    `stop` lists the signals to send in turn, each with how long to wait for the child to
    exit; if it is still running after the last, its whole process group is killed.
    """

    name: str
    argv: Sequence[str]
    env: Mapping[str, str] | None = None
    stop: StopPlan = DEFAULT_STOP
    # Where the child writes its log itself (redis-server); otherwise its captured output.
    log_file: Path | None = None
    # Whether a control request may stop it (the web cannot stop the web serving the request).
    stoppable: bool = True
    # What the kernel sends it should the supervisor die without stopping it (SIGKILL).
    orphaned_signal: int = signal.SIGTERM


@dataclass(frozen=True)
class Backoff:
    """Restart delays: `initial`, doubling up to `maximum`; back to `initial` after a child
    has stayed up `reset_after` seconds, so one crash a day does not wait 30 s."""

    initial: float = 1.0
    maximum: float = 30.0
    reset_after: float = 60.0

    def next_delay(self, previous: float, uptime: float) -> float:
        if previous <= 0 or uptime >= self.reset_after:
            return self.initial
        return min(self.maximum, previous * 2)


def role_command(role: str) -> list[str]:
    """The command that runs one role of the dashboard (`dashboard <role>`)."""
    return [sys.executable, "-m", "dashboard", role]


def spawn(
    argv: Sequence[str],
    env: Mapping[str, str] | None = None,
    *,
    capture: bool = False,
    orphaned_signal: int = signal.SIGTERM,
) -> subprocess.Popen[bytes]:
    """Starts a child in its own process group that gets `orphaned_signal` when its parent
    dies. With `capture`, its stdout and stderr come back through one pipe (`process.stdout`)."""
    hook = _child_setup(_prctl, os.getpid(), orphaned_signal)
    output = subprocess.PIPE if capture else None
    return subprocess.Popen(
        list(argv),
        env=None if env is None else dict(env),
        stdin=subprocess.DEVNULL,  # in a background group, reading the terminal would stop it
        stdout=output,
        stderr=subprocess.STDOUT if capture else None,
        process_group=0,
        preexec_fn=hook,
    )


def _pump(stream: IO[bytes], kept: deque[str]) -> None:
    """Copies a child's output to our stderr, line by line, keeping the last lines."""
    with stream:
        for line in iter(stream.readline, b""):
            with contextlib.suppress(OSError):  # a closed terminal must not stop the child
                os.write(2, line)
            kept.append(line.decode(errors="replace").rstrip("\n"))


def tail_file(path: Path, lines: int) -> list[str]:
    """The last lines of a log file, reading no more than its end."""
    try:
        with path.open("rb") as file:
            file.seek(max(0, path.stat().st_size - 200 * lines))
            text = file.read().decode(errors="replace")
    except OSError:
        return []
    return text.splitlines()[-lines:]


def _child_setup(
    prctl: Callable[..., int] | None, parent: int, orphaned_signal: int = signal.SIGTERM
) -> Callable[[], None]:
    """Runs in the child between fork and exec (the main thread's fork: see above)."""

    def hook() -> None:
        for signum in RESTORED_SIGNALS:
            signal.signal(signum, signal.SIG_DFL)
        if prctl is None:
            return
        prctl(_PR_SET_PDEATHSIG, int(orphaned_signal), 0, 0, 0)
        if os.getppid() != parent:
            os._exit(1)  # the parent died before prctl took effect: no signal would come

    return hook


def has_exited(process: subprocess.Popen[bytes]) -> bool:
    """Whether the process has ended, without reaping it (see the module docstring)."""
    if process.returncode is not None:
        return True
    try:
        flags = os.WEXITED | os.WNOHANG | os.WNOWAIT
        return os.waitid(os.P_PID, process.pid, flags) is not None
    except ChildProcessError:  # reaped by someone else
        return True


def kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGKILL)


def reap(process: subprocess.Popen[bytes]) -> int | None:
    """Kills what is left of the child's process group, then collects the child's status."""
    kill_group(process.pid)
    try:
        return process.wait(timeout=KILL_WAIT_SECONDS)
    except subprocess.TimeoutExpired:
        log.error(
            "pid %d survived SIGKILL for %.0fs; giving up on it", process.pid, KILL_WAIT_SECONDS
        )
        return None


def describe_status(code: int | None) -> str:
    if code is None:
        return "unknown status"
    if code < 0:
        with contextlib.suppress(ValueError):  # real-time signals have no name
            return f"signal {signal.Signals(-code).name}"
        return f"signal {-code}"
    return f"exit code {code}"


@dataclass
class _Child:
    spec: ChildSpec
    process: subprocess.Popen[bytes] | None = None
    started_at: float = 0.0
    delay: float = 0.0
    restart_at: float | None = None
    restarts: int = 0
    last_exit: str | None = None
    stopped_by_request: bool = False
    stopping: bool = False
    output: deque[str] = field(default_factory=lambda: deque(maxlen=OUTPUT_LINES_KEPT))

    @property
    def state(self) -> str:
        if self.stopping:
            return "stopping"
        if self.process is not None:
            return "running"
        return "stopped" if self.stopped_by_request else "restarting"

    def status(self, now: float) -> dict[str, Any]:
        process = self.process
        return {
            "name": self.spec.name,
            "state": self.state,
            "pid": process.pid if process is not None else None,
            "uptime_seconds": round(now - self.started_at, 1) if process is not None else None,
            "restarts": self.restarts,
            "last_exit": self.last_exit,
            "stoppable": self.spec.stoppable,
        }

    def tail(self, lines: int) -> list[str]:
        if self.spec.log_file is not None:
            return tail_file(self.spec.log_file, lines)
        return list(self.output)[-lines:]


def _ignore_signal(_signum: int, _frame: FrameType | None) -> None:
    """Installed for SIGCHLD only so that its arrival writes to the wakeup socket."""


class Supervisor:
    """Starts children, restarts those that die, and stops them all on SIGINT/SIGTERM/SIGHUP.

    Use it as a context manager: entering installs the signal handlers, leaving stops every
    child (also when startup fails half-way) and restores the handlers.
    """

    def __init__(
        self,
        *,
        backoff: Backoff | None = None,
        clock: Callable[[], float] = time.monotonic,
        control_path: Path | None = None,
    ) -> None:
        self._backoff = backoff or Backoff()
        self._clock = clock
        self._control_path = control_path
        self._control: ControlServer | None = None
        self._requests: deque[tuple[_Child, str]] = deque()
        self._children: list[_Child] = []
        self._stop_signals: list[int] = []
        self._wake_reader, self._wake_writer = socket.socketpair()
        self._saved_handlers: dict[int, Handler] = {}
        self._saved_wakeup_fd = -1
        self._kill_logged = False

    def __enter__(self) -> Self:
        for end in (self._wake_reader, self._wake_writer):
            end.setblocking(False)
        self._saved_wakeup_fd = signal.set_wakeup_fd(
            self._wake_writer.fileno(), warn_on_full_buffer=False
        )
        self._install_handlers()
        self._open_control()
        return self

    def _open_control(self) -> None:
        if self._control_path is None:
            return
        try:
            self._control = ControlServer(self._control_path, self._handle_control)
        except (OSError, ValueError) as error:  # the page loses its controls, nothing else
            log.warning("no control socket (%s): the page cannot manage processes", error)

    def _install_handlers(self) -> None:
        handlers: dict[int, Callable[[int, FrameType | None], None]] = {
            signal.SIGINT: self._on_stop_signal,
            signal.SIGTERM: self._on_stop_signal,
            signal.SIGCHLD: _ignore_signal,
        }
        # Under nohup SIGHUP is ignored on purpose; keep it that way.
        if signal.getsignal(signal.SIGHUP) != signal.SIG_IGN:
            handlers[signal.SIGHUP] = self._on_stop_signal
        for signum, handler in handlers.items():
            self._saved_handlers[signum] = signal.signal(signum, handler)
            # Restart interrupted system calls: the migrations run in this process, and C code
            # (sqlite, libpq) should not see EINTR because a child exited. select() still
            # returns at once, woken by the wakeup socket.
            signal.siginterrupt(signum, False)

    def __exit__(
        self,
        _type: type[BaseException] | None,
        _value: BaseException | None,
        _traceback: TracebackType | None,
    ) -> None:
        try:
            self.stop_all()
        finally:
            if self._control is not None:
                self._control.close()
            for signum, handler in self._saved_handlers.items():
                signal.signal(signum, signal.SIG_DFL if handler is None else handler)
            signal.set_wakeup_fd(self._saved_wakeup_fd)
            self._wake_reader.close()
            self._wake_writer.close()

    @property
    def stop_requested(self) -> bool:
        return bool(self._stop_signals)

    @property
    def _forced(self) -> bool:
        return len(self._stop_signals) >= 2

    def _on_stop_signal(self, signum: int, _frame: FrameType | None) -> None:
        # No logging here: a handler runs between any two bytecodes, even inside logging.
        self._stop_signals.append(signum)

    def start(self, spec: ChildSpec) -> subprocess.Popen[bytes]:
        """Starts a child now and supervises it from then on."""
        child = _Child(spec)
        process = self._launch(child)
        self._children.append(child)
        return process

    def run(self) -> int:
        """Supervises until a stop signal, then stops every child; returns the exit status."""
        self._supervise(until=None, deadline=None)
        if self._stop_signals:
            log.info("%s received: stopping", signal.Signals(self._stop_signals[0]).name)
        self.stop_all()
        return 0

    def wait_for(self, ready: Callable[[], bool], timeout: float) -> bool:
        """Supervises until ready() is true (True), or timeout or a stop signal (False)."""
        return self._supervise(until=ready, deadline=self._clock() + timeout)

    def stop_all(self) -> None:
        """Stops the children, last started first; a second stop signal skips the waiting."""
        while self._children:
            child = self._children.pop()
            if child.process is not None:
                self._stop(child.spec, child.process)

    def _supervise(self, until: Callable[[], bool] | None, deadline: float | None) -> bool:
        while not self._stop_signals:
            self._check_children()
            self._apply_requests()
            if until is not None and until():
                return True
            now = self._clock()
            if deadline is not None and now >= deadline:
                return False
            self._sleep(self._next_wake(now, deadline, polling=until is not None))
        return False

    def _next_wake(self, now: float, deadline: float | None, *, polling: bool) -> float:
        times = [now + (READY_POLL_SECONDS if polling else IDLE_WAKE_SECONDS)]
        times += [c.restart_at for c in self._children if c.restart_at is not None]
        if deadline is not None:
            times.append(deadline)
        if self._requests:
            times.append(now)
        return max(0.0, min(times) - now)

    def _sleep(self, timeout: float) -> None:
        sources: list[Any] = [self._wake_reader]
        if self._control is not None:
            sources.append(self._control)
        readable, _, _ = select.select(sources, [], [], timeout)
        if self._control is not None and self._control in readable:
            self._control.serve_one()
        if self._wake_reader in readable:
            with contextlib.suppress(BlockingIOError):
                while self._wake_reader.recv(512):
                    pass

    def _check_children(self) -> None:
        now = self._clock()
        for child in self._children:
            if child.process is not None and has_exited(child.process):
                self._on_exit(child, child.process, now)
            elif child.process is None and child.restart_at is not None and now >= child.restart_at:
                self._restart(child)

    def _on_exit(self, child: _Child, process: subprocess.Popen[bytes], now: float) -> None:
        status = describe_status(reap(process))
        uptime = now - child.started_at
        child.restarts += 1
        child.last_exit = f"exited with {status} after {uptime:.0f}s"
        child.delay = self._backoff.next_delay(child.delay, uptime)
        child.process, child.restart_at = None, now + child.delay
        log.warning(
            "%s (pid %d) exited unexpectedly with %s after %.1fs; restarting in %.2fs",
            child.spec.name,
            process.pid,
            status,
            uptime,
            child.delay,
        )

    def _restart(self, child: _Child) -> None:
        try:
            self._launch(child)
        except (OSError, subprocess.SubprocessError):
            # A missing binary or a full process table may pass: keep trying, with backoff.
            child.delay = self._backoff.next_delay(child.delay, 0.0)
            child.restart_at = self._clock() + child.delay
            log.exception("could not restart %s; next try in %.2fs", child.spec.name, child.delay)

    def _launch(self, child: _Child) -> subprocess.Popen[bytes]:
        spec = child.spec
        process = spawn(spec.argv, spec.env, capture=True, orphaned_signal=spec.orphaned_signal)
        assert process.stdout is not None
        # A daemon: a grandchild that outlived its group must not keep this process from exiting.
        threading.Thread(
            target=_pump,
            args=(process.stdout, child.output),
            name=f"{child.spec.name}-output",
            daemon=True,
        ).start()
        child.process, child.started_at, child.restart_at = process, self._clock(), None
        log.info("started %s (pid %d)", child.spec.name, process.pid)
        return process

    def _handle_control(self, request: dict[str, Any]) -> dict[str, Any]:
        """Answers a control request at once; actions wait in a queue for the loop."""
        command = request.get("command")
        if command == "status":
            now = self._clock()
            return {"ok": True, "processes": [child.status(now) for child in self._children]}
        child = next((c for c in self._children if c.spec.name == request.get("name")), None)
        if child is None:
            error = f"no process is named {request.get('name')!r}"
            return {"ok": False, "error": error, "unknown": True}
        if command == "tail":
            lines = request.get("lines")
            wanted = lines if isinstance(lines, int) else DEFAULT_TAIL_LINES
            return {"ok": True, "lines": child.tail(wanted)}
        if command not in ACTIONS:
            return {"ok": False, "error": f"unknown command {command!r}"}
        if command == "stop" and not child.spec.stoppable:
            return {"ok": False, "error": f"{child.spec.name} cannot be stopped from here"}
        self._requests.append((child, command))
        return {"ok": True}

    def _apply_requests(self) -> None:
        while self._requests and not self._stop_signals:
            child, action = self._requests.popleft()
            log.info("%s of %s requested through the control socket", action, child.spec.name)
            if action in ("stop", "restart"):
                self._stop_on_request(child, for_good=action == "stop")
            if action in ("start", "restart") and child.process is None:
                child.stopped_by_request, child.delay = False, 0.0
                self._restart(child)

    def _stop_on_request(self, child: _Child, *, for_good: bool) -> None:
        child.stopped_by_request, child.restart_at = for_good, None
        process = child.process
        if process is None:
            return
        child.stopping = True
        try:
            self._stop(child.spec, process)
        finally:
            child.process, child.stopping = None, False
        child.last_exit = "stopped on request"

    def _stop(self, spec: ChildSpec, process: subprocess.Popen[bytes]) -> None:
        for signum, timeout in spec.stop:
            if self._forced or has_exited(process):
                break
            log.info("stopping %s (pid %d) with %s", spec.name, process.pid, signum.name)
            with contextlib.suppress(ProcessLookupError):
                os.kill(process.pid, signum)
            if self._wait_exit(process, timeout):
                break
        if not has_exited(process):
            self._log_kill(spec, process)
        status = describe_status(reap(process))
        log.info("%s (pid %d) stopped with %s", spec.name, process.pid, status)

    def _log_kill(self, spec: ChildSpec, process: subprocess.Popen[bytes]) -> None:
        if not self._forced:
            log.warning("%s (pid %d) did not stop in time: killing it", spec.name, process.pid)
        elif not self._kill_logged:
            self._kill_logged = True
            log.warning("second stop signal: killing the remaining children at once")

    def _wait_exit(self, process: subprocess.Popen[bytes], timeout: float) -> bool:
        deadline = self._clock() + timeout
        while not has_exited(process):
            remaining = deadline - self._clock()
            if remaining <= 0 or self._forced:
                return False
            self._sleep(min(remaining, IDLE_WAKE_SECONDS))
        return True
