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

import psutil

from dashboard import migrate
from dashboard.redisserver import EmbeddedRedis

REPO_ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Stack:
    redis_url: str
    database_url: str
    state_dir: Path

    def env(self, **extra: str) -> dict[str, str]:
        base = {k: v for k, v in os.environ.items() if k not in {"CELERY_BROKER_URL", "SMTP_URL"}}
        return {
            **base,
            "REDIS_URL": self.redis_url,
            "DATABASE_URL": self.database_url,
            "DASHBOARD_STATE_DIR": str(self.state_dir),
            "LOG_LEVEL": "WARNING",
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
        yield Stack(redis.url, database_url, work_dir / "state")
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
