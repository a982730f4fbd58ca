"""Files that tasks make, kept under the state directory and named by task id."""

import re
from pathlib import Path

from dashboard.settings import get_settings

_SAFE_ID = re.compile(r"^[A-Za-z0-9-]{1,64}$")


def digits_path(task_id: str, files_dir: Path | None = None) -> Path:
    if not _SAFE_ID.match(task_id):
        raise ValueError("not a task id")
    return (files_dir or get_settings().files_dir) / f"pi-{task_id}.txt"


def relative_to_state_dir(path: Path) -> str:
    """How SQL records a file: relative, so the state directory can move."""
    return str(path.relative_to(get_settings().state_dir.resolve()))


def write_digits(task_id: str, digits: str) -> Path:
    """Writes to a temporary name first, so a crash never leaves a half file under the real one."""
    path = digits_path(task_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".part")
    partial.write_text(digits + "\n", encoding="ascii")
    partial.replace(path)
    return path
