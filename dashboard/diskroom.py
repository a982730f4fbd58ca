"""Room on the disk for a task's file, checked before the task makes it.

The task files share a disk with the SQLite database and Redis's append-only file (under
the same state directory by default): one user's exports filling it would fail every user's
task records and events. A task whose file would leave less than FILES_MIN_FREE_MB free
fails at once, saying so, instead of filling the disk part-way.
"""

import shutil
from dataclasses import dataclass
from pathlib import Path

MEGABYTE = 1024 * 1024


class DiskFull(Exception):
    """Not enough room for the file, with the figures in the message."""


@dataclass(frozen=True)
class Room:
    """The files' disk as /healthz and /metrics tell it."""

    free_bytes: int
    kept_free_bytes: int

    @property
    def low(self) -> bool:
        """Below the reserve: every new pi or sample CSV file is refused."""
        return self.free_bytes < self.kept_free_bytes

    def describe(self) -> str:
        if not self.low:
            return "ok"
        return (
            f"low: {_size(self.free_bytes)} free, {_size(self.kept_free_bytes)} "
            "kept free; new pi and CSV files are refused"
        )


def room_in(directory: Path, keep_free_bytes: int) -> Room:
    """The directory need not exist yet: its nearest existing parent is on the same disk
    until it is made (a mount at it would exist)."""
    existing = next(folder for folder in (directory, *directory.parents) if folder.exists())
    return Room(shutil.disk_usage(existing).free, keep_free_bytes)


def ensure_room(directory: Path, needed_bytes: int, keep_free_bytes: int) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    free = shutil.disk_usage(directory).free
    if free - needed_bytes < keep_free_bytes:
        raise DiskFull(
            f"not enough disk space for this file: it needs about {_size(needed_bytes)}, "
            f"{_size(free)} are free, and {_size(keep_free_bytes)} are kept free "
            "for the database and the queue."
        )


GIBIBYTE = 1024 * MEGABYTE


def _size(size: int) -> str:
    """In the page's units (binary, as its disk gauges): "74.7 GiB", "100 MiB", "512 bytes"."""
    if size >= GIBIBYTE:
        return f"{size / GIBIBYTE:,.1f} GiB"
    return f"{size / MEGABYTE:,.0f} MiB" if size >= MEGABYTE else f"{size:,} bytes"
