"""The web's malloc arena limit, seen in glibc's own count of arenas."""

import os
import platform
import subprocess
import sys

import pytest

from dashboard.allocator import ARENAS, ENVIRONMENT_NAME

pytestmark = pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="glibc only")

# Six threads alive at once, each allocating: glibc would give each an arena of its own.
THREADS = 6
SCRIPT = f"""
import ctypes, os, sys, threading
from dashboard.allocator import limit_malloc_arenas

if sys.argv[1] == "limited":
    assert limit_malloc_arenas()
    assert os.environ["{ENVIRONMENT_NAME}"] == "{ARENAS}"
together = threading.Barrier({THREADS})

def allocate():
    together.wait()
    kept = [bytearray(100_000) for _ in range(20)]
    together.wait()

threads = [threading.Thread(target=allocate) for _ in range({THREADS})]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
ctypes.CDLL(None).malloc_stats()
"""


def arenas_used(mode: str) -> int:
    """How many arenas malloc_stats lists (on stderr) after the threads' allocations."""
    env = {name: value for name, value in os.environ.items() if name != ENVIRONMENT_NAME}
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, mode], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return sum(line.startswith("Arena ") for line in done.stderr.splitlines())


def test_the_web_keeps_two_malloc_arenas_however_many_threads_allocate() -> None:
    assert arenas_used("unlimited") > ARENAS  # what glibc does by itself: the test can tell
    assert arenas_used("limited") <= ARENAS


def test_an_operators_own_limit_is_left_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    from dashboard.allocator import limit_malloc_arenas

    monkeypatch.setenv(ENVIRONMENT_NAME, "4")
    assert limit_malloc_arenas() is False
    assert os.environ[ENVIRONMENT_NAME] == "4"
