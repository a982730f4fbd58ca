"""What the benchmarks run against: a private redis-server, a fresh SQLite database, and
processes started with the same commands a deployment uses (loopback only)."""

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil

from dashboard import migrate
from dashboard.redisserver import EmbeddedRedis

REPO_ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Stack:
    redis_url: str
    database_url: str
    state_dir: Path
    redis_pid: int | None = None

    def env(self, **extra: str) -> dict[str, str]:
        base = {k: v for k, v in os.environ.items() if k not in {"CELERY_BROKER_URL", "SMTP_URL"}}
        return {
            **base,
            "REDIS_URL": self.redis_url,
            "DATABASE_URL": self.database_url,
            "DASHBOARD_STATE_DIR": str(self.state_dir),
            "LOG_LEVEL": "WARNING",
            # Each benchmark's crowd of streams (up to 5,000) is one user's.
            "USER_MAX_STREAMS": "100000",
            **extra,
        }


@contextmanager
def private_stack(work_dir: Path) -> Iterator[Stack]:
    work_dir.mkdir(parents=True, exist_ok=True)
    redis = EmbeddedRedis(work_dir / "redis")
    redis.start()
    database_url = f"sqlite:///{work_dir / 'dashboard.db'}"
    migrate.upgrade(database_url)
    try:
        yield Stack(redis.url, database_url, work_dir / "state", redis.pid)
    finally:
        redis.stop()


@contextmanager
def process(argv: list[str], env: dict[str, str], log_path: Path) -> Iterator[psutil.Process]:
    """A process in its own group, stopped (and its group killed) on the way out."""
    with log_path.open("ab") as log:
        child = subprocess.Popen(
            argv, env=env, cwd=REPO_ROOT, stdout=log, stderr=subprocess.STDOUT, process_group=0
        )
    try:
        yield psutil.Process(child.pid)
    finally:
        os.killpg(child.pid, 15)
        try:
            child.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(child.pid, 9)
            child.wait(10)


def dashboard_command(role: str) -> list[str]:
    return [sys.executable, "-m", "dashboard", role]


def wait_for(check: Callable[[], bool], what: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.1)


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def use_stack(stack: Stack, **extra: str) -> None:
    """This process talks to the stack as its processes are configured: the environment."""
    from dashboard import runtime
    from dashboard.settings import get_settings

    os.environ.update(stack.env(**extra))
    get_settings.cache_clear()
    runtime.reset_after_fork()  # handles made for an earlier stack point elsewhere


def user_with_token(name: str, *, admin: bool = False) -> tuple[Any, str]:
    """A new user of the stack in use, and a personal API token of theirs."""
    from sqlmodel import Session

    from dashboard import runtime
    from dashboard.accounts import tokens, users

    with Session(runtime.engine(), expire_on_commit=False) as session:
        email = f"{name}{time.time_ns()}@example.com"
        user = users.register(
            session, email=email, password="correct horse battery staple", is_admin=admin
        )
        assert user.id is not None
        token, _ = tokens.create(session, user_id=user.id, name="bench", lifetime=None, most=1)
    return user, token


def resident(process: psutil.Process) -> int:
    """The process and its children (a worker's pool), in bytes."""
    total = 0
    for member in [process, *process.children(recursive=True)]:
        try:
            total += member.memory_info().rss
        except psutil.NoSuchProcess:
            continue  # a pool process replaced just now; its successor is counted next time
    return total
