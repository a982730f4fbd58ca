"""Room for a task's file: checked against the disk's real free space."""

import shutil
from pathlib import Path

import pytest

from dashboard.diskroom import MEGABYTE, DiskFull, Room, ensure_room, room_in


def test_a_file_that_fits_above_the_reserve_may_be_written(tmp_path: Path) -> None:
    free = shutil.disk_usage(tmp_path).free
    ensure_room(tmp_path / "files", needed_bytes=MEGABYTE, keep_free_bytes=free // 2)
    assert (tmp_path / "files").is_dir()


def test_a_file_that_would_eat_into_the_reserve_is_refused_saying_why(tmp_path: Path) -> None:
    free = shutil.disk_usage(tmp_path).free
    with pytest.raises(
        DiskFull, match=r"it needs about [\d,.]+ [MG]iB, [\d,.]+ [MG]iB are free"
    ) as refused:
        ensure_room(tmp_path, needed_bytes=free, keep_free_bytes=100 * MEGABYTE)
    assert "100 MiB are kept free for the database and the queue" in str(refused.value)


def test_the_room_is_read_where_the_files_will_go_before_the_folder_is_made(
    tmp_path: Path,
) -> None:
    unmade = tmp_path / "state" / "files"
    room = room_in(unmade, keep_free_bytes=MEGABYTE)
    assert not unmade.exists()
    # The same disk as its parent: free space moves a little between two readings.
    assert abs(room.free_bytes - shutil.disk_usage(tmp_path).free) < 64 * MEGABYTE
    assert not room.low and room.describe() == "ok"


def test_a_large_room_is_said_in_gibibytes_as_the_page_says_it() -> None:
    """The page showed 74.7 GiB free where /healthz said 76,480 MB (QA)."""
    room = Room(free_bytes=int(74.7 * 1024 * MEGABYTE), kept_free_bytes=80 * 1024 * MEGABYTE)
    assert room.describe().startswith("low: 74.7 GiB free, 80.0 GiB kept free")


def test_a_disk_below_its_reserve_is_low_with_the_figures() -> None:
    room = Room(free_bytes=80 * MEGABYTE, kept_free_bytes=100 * MEGABYTE)
    assert room.low
    assert room.describe() == (
        "low: 80 MiB free, 100 MiB kept free; new pi and CSV files are refused"
    )
