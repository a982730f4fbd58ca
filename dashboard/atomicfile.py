"""Writing a file under a temporary name, renamed into place only once it is whole.

A crash never leaves half a file under the real name; a failed write (the disk full, a time
limit, a worker's shutdown) removes its partial file, which would otherwise hold its space
until the sweep of abandoned files (dashboard.retention) found it.
"""

from collections.abc import Callable
from pathlib import Path
from typing import TextIO, TypeVar

T = TypeVar("T")
PARTIAL_SUFFIX = ".part"


def partial_of(path: Path) -> Path:
    return path.with_name(path.name + PARTIAL_SUFFIX)


def write_atomically(
    path: Path, write: Callable[[TextIO], T], *, encoding: str = "utf-8", newline: str = ""
) -> T:
    path.parent.mkdir(parents=True, exist_ok=True)
    part = partial_of(path)
    try:
        with part.open("w", encoding=encoding, newline=newline) as out:
            written = write(out)
        # No fsync: the crash guarded against is the worker's, not the machine's, and syncing
        # a file of half a gigabyte would cost more than writing it.
        part.replace(path)
    except BaseException:
        # BaseException too: Celery's time limits and a worker's shutdown arrive as such.
        part.unlink(missing_ok=True)
        raise
    return written
