"""Starting and stopping the dashboard's own processes for tests, always with a time bound."""

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path

import httpx

from dashboard.settings import Settings

REPO_ROOT = Path(__file__).resolve().parents[1]
_SETTINGS = {*Settings.model_fields, "dashboard_state_dir"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until(check: Callable[[], bool], what: str, timeout: float, pause: float = 0.2) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() >= deadline:
            raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(pause)


class Service:
    """One `python -m dashboard <role>` process in its own process group, logging to a file."""

    def __init__(
        self,
        role: str,
        env: Mapping[str, str],
        log_dir: Path,
        *,
        argv: list[str] | None = None,
        name: str | None = None,
    ) -> None:
        self.role = role
        self.env = dict(env)
        self.log_path = log_dir / f"{name or role}.log"
        self.argv = argv or [sys.executable, "-m", "dashboard", role]
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def start(self) -> "Service":
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                self.argv,
                env=self.env,
                cwd=REPO_ROOT,
                stdout=log,
                stderr=subprocess.STDOUT,
                process_group=0,
            )
        return self

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill(self) -> None:
        """SIGKILL to the whole group: the process and its pool children die at once."""
        if self.process is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.pid, signal.SIGKILL)
            self.process.wait(10)

    def stop(self, timeout: float = 20) -> None:
        if not self.running():
            return
        assert self.process is not None
        os.killpg(self.pid, signal.SIGQUIT if self.role == "worker" else signal.SIGTERM)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.pid, signal.SIGKILL)  # anything of its group left behind

    def log_tail(self, lines: int = 40) -> str:
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])


def embedded_env(state_dir: Path) -> dict[str, str]:
    """This process's environment minus every dashboard setting: `dashboard` commands run with
    it use the embedded Redis and the SQLite database of `state_dir`, and the defaults for the
    rest, whatever this session has set (the integration stack sets a small finished-list
    page, for one, and the end-to-end tests run after it in the same session)."""
    inherited = {k: v for k, v in os.environ.items() if k.lower() not in _SETTINGS}
    return {**inherited, "DASHBOARD_STATE_DIR": str(state_dir)}


def spawn_dashboard_run(
    state_dir: Path, port: int, log_path: Path, **env: str
) -> subprocess.Popen[bytes]:
    """`python -m dashboard run` as `make run` starts it: no REDIS_URL, DATABASE_URL or broker
    in its environment, so it uses its private Redis and SQLite under `state_dir`."""
    settings = {"DASHBOARD_STATE_DIR": str(state_dir), "HOST": "127.0.0.1", "PORT": str(port)}
    inherited = embedded_env(state_dir)
    with log_path.open("ab") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "dashboard", "run"],
            env=inherited | settings | env,
            cwd=REPO_ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )


def answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False
