"""Task views from the event stream, turned into one line per meaningful change."""

from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

INTERMEDIATE_WIDTH = 40
REMEMBERED_TASKS = 1000
# The server's final task states (dashboard.models.FINAL_STATES, not imported: the client
# loads no server modules).
FINAL_STATES = frozenset({"SUCCESS", "FAILURE", "REVOKED", "LOST"})
RUNNING_STATES = frozenset({"STARTED", "PROGRESS"})


@dataclass
class _Seen:
    """What has been printed about one task, so repeats and small steps print nothing."""

    announced: bool = False
    decile: int = 0
    attempts: int = 0
    ended: bool = False


@dataclass
class NotificationRenderer:
    """Turns a user's task events into at most a dozen lines per task: start, 10 % steps, end.

    Progress events arrive about ten times a second; a line is worth printing only when a
    task starts, crosses another tenth, or ends. A repeated event (a snapshot after a fresh
    connection) prints nothing.
    """

    _seen: OrderedDict[str, _Seen] = field(default_factory=OrderedDict)

    def lines_for(self, view: Mapping[str, Any]) -> list[str]:
        task_id, state = str(view.get("id", "")), str(view.get("state", ""))
        seen = self._remember(task_id)
        if seen.ended:
            return []
        label = f"{view.get('kind', 'task')} {short_id(task_id)}"
        if state in FINAL_STATES:
            seen.ended = True
            return [ending_line(label, state, view)]
        if state not in RUNNING_STATES:
            return []  # QUEUED: the command already said "started"
        lines = _start_lines(label, seen, int(view.get("attempts") or 0))
        progress = view.get("progress")
        if isinstance(progress, Mapping):
            lines += _progress_lines(label, seen, progress)
        return lines

    def _remember(self, task_id: str) -> _Seen:
        seen = self._seen.pop(task_id, None) or _Seen()
        self._seen[task_id] = seen
        if len(self._seen) > REMEMBERED_TASKS:
            self._seen.popitem(last=False)
        return seen


def _start_lines(label: str, seen: _Seen, attempts: int) -> list[str]:
    # A task handed back after a worker died starts again, with one more attempt.
    if seen.announced and attempts <= seen.attempts:
        return []
    again = seen.announced
    seen.announced, seen.attempts, seen.decile = True, attempts, 0
    return [f"▶ {label} started" + (f" again (attempt {attempts})" if again else "")]


def _progress_lines(label: str, seen: _Seen, progress: Mapping[str, Any]) -> list[str]:
    percent = float(progress.get("percent") or 0.0)
    decile = int(percent // 10)
    # 100 % is said by the ending line that follows at once.
    if decile <= seen.decile or percent >= 100:
        return []
    seen.decile = decile
    intermediate = _shorten(str(progress.get("intermediate") or ""), INTERMEDIATE_WIDTH)
    return [f"… {label} {int(percent)} %" + (f"  {intermediate}" if intermediate else "")]


def ending_line(label: str, state: str, view: Mapping[str, Any]) -> str:
    if state == "SUCCESS":
        runtime = view.get("runtime_seconds")
        took = f" in {format_runtime(float(runtime))}" if runtime is not None else ""
        return f"✓ {label} SUCCESS{took}"
    error = view.get("error")
    return f"✗ {label} {state}" + (f": {error}" if error else "")


def short_id(task_id: str) -> str:
    return task_id[:8]


def format_runtime(seconds: float) -> str:
    if seconds < 1:
        return f"{seconds:.2f} s"
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {rest} s"
    return f"{minutes // 60} h {minutes % 60} min"


def _shorten(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def task_table(items: list[Mapping[str, Any]]) -> list[str]:
    """The `tasks` listing: short id, kind, state, percent while running, runtime."""
    if not items:
        return ["no tasks yet"]
    rows = [("ID", "KIND", "STATE", "DONE", "RUNTIME")]
    for item in items:
        progress = item.get("progress")
        percent = progress.get("percent") if isinstance(progress, Mapping) else None
        runtime = item.get("runtime_seconds")
        rows.append(
            (
                short_id(str(item.get("id", ""))),
                str(item.get("kind", "")),
                str(item.get("state", "")),
                f"{int(float(percent))} %" if percent is not None else "",
                format_runtime(float(runtime)) if runtime is not None else "",
            )
        )
    widths = [max(len(row[column]) for row in rows) for column in range(5)]
    return [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in rows
    ]
