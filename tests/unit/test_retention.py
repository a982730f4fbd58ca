"""Files nothing else would remove: partial files left by a failed write or a killed writer,
and files no row will expire. (Expiring files by their rows: tests/integration/test_exports.)"""

import os
import time
from datetime import timedelta
from pathlib import Path

import pytest

from dashboard import artifacts
from dashboard.atomicfile import write_atomically
from dashboard.retention import (
    PARTIAL_ABANDONED_AFTER,
    UNCLAIMED_GRACE,
    remove_abandoned_files,
)

RETENTION = timedelta(hours=168)


def aged(path: Path, age: timedelta, text: str = "x") -> Path:
    path.write_text(text)
    moment = time.time() - age.total_seconds()
    os.utime(path, (moment, moment))
    return path


def test_a_write_that_fails_removes_its_partial_file(tmp_path: Path) -> None:
    """Pi's digits on a full disk left their .part behind, holding the rest of the disk."""
    target = tmp_path / "pi-abc.txt"

    def disk_full(out: object) -> None:
        raise OSError(28, "No space left on device")

    with pytest.raises(OSError, match="No space left"):
        write_atomically(target, disk_full)
    assert list(tmp_path.iterdir()) == []


def test_pi_digits_go_through_a_partial_file_into_place(state_dir: Path) -> None:
    path = artifacts.write_digits("abc-123", "3.14159")
    assert path.read_text() == "3.14159\n"
    assert [item.name for item in path.parent.iterdir()] == ["pi-abc-123.txt"]
    # A write that fails part-way (here on a character ASCII lacks) leaves nothing behind.
    with pytest.raises(UnicodeEncodeError):
        artifacts.write_digits("def-456", "3.14\u03c0")
    assert [item.name for item in path.parent.iterdir()] == ["pi-abc-123.txt"]


def test_abandoned_partial_files_and_unclaimed_old_files_are_removed(tmp_path: Path) -> None:
    hour = timedelta(hours=1)
    abandoned = aged(tmp_path / "csv-a.csv.part", PARTIAL_ABANDONED_AFTER + hour)
    being_written = aged(tmp_path / "csv-b.csv.part", PARTIAL_ABANDONED_AFTER - hour)
    unclaimed = aged(tmp_path / "csv-c.csv", RETENTION + UNCLAIMED_GRACE + hour)
    kept = aged(tmp_path / "pi-d.txt", RETENTION + UNCLAIMED_GRACE - hour)  # its row's to expire
    assert remove_abandoned_files(tmp_path, RETENTION) == 2
    assert not abandoned.exists() and not unclaimed.exists()
    assert being_written.exists() and kept.exists()
