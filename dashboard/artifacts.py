"""Files that tasks make, kept under the state directory and named by task id.

SQL records a file relative to the state directory (so the directory can move); reading one
back checks that it still lies inside the files folder, whatever the row says.
"""

import re
from pathlib import Path
from typing import Any

from dashboard.atomicfile import write_atomically
from dashboard.settings import get_settings

_SAFE_ID = re.compile(r"^[A-Za-z0-9-]{1,64}$")


def _named(task_id: str, prefix: str, suffix: str, files_dir: Path | None) -> Path:
    if not _SAFE_ID.match(task_id):
        raise ValueError("not a task id")
    return (files_dir or get_settings().files_dir) / f"{prefix}-{task_id}{suffix}"


def digits_path(task_id: str, files_dir: Path | None = None) -> Path:
    return _named(task_id, "pi", ".txt", files_dir)


def csv_path(task_id: str, files_dir: Path | None = None) -> Path:
    return _named(task_id, "csv", ".csv", files_dir)


def relative_to_state_dir(path: Path) -> str:
    """How SQL records a file: relative, so the state directory can move."""
    return str(path.relative_to(get_settings().state_dir.resolve()))


def file_of(result: dict[str, Any] | None) -> Path | None:
    """The file a task's result names, if it names one inside the files folder."""
    relative = (result or {}).get("file")
    if not isinstance(relative, str):
        return None
    settings = get_settings()
    path = (settings.state_dir.resolve() / relative).resolve()
    return path if path.is_relative_to(settings.files_dir) else None


def write_digits(task_id: str, digits: str) -> Path:
    path = digits_path(task_id)
    write_atomically(path, lambda out: out.write(digits + "\n"), encoding="ascii")
    return path
