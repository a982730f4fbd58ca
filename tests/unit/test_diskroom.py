"""Room for a task's file: checked against the disk's real free space."""

import shutil
from pathlib import Path

import pytest

from dashboard.diskroom import MEGABYTE, DiskFull, ensure_room


def test_a_file_that_fits_above_the_reserve_may_be_written(tmp_path: Path) -> None:
    free = shutil.disk_usage(tmp_path).free
    ensure_room(tmp_path / "files", needed_bytes=MEGABYTE, keep_free_bytes=free // 2)
    assert (tmp_path / "files").is_dir()


def test_a_file_that_would_eat_into_the_reserve_is_refused_saying_why(tmp_path: Path) -> None:
    free = shutil.disk_usage(tmp_path).free
    with pytest.raises(DiskFull, match=r"it needs about [\d,]+ MB, [\d,]+ MB are free") as refused:
        ensure_room(tmp_path, needed_bytes=free, keep_free_bytes=100 * MEGABYTE)
    assert "100 MB are kept free for the database and the queue" in str(refused.value)
