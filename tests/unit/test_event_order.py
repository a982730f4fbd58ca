"""No progress is logged after a task's final state, on a real Redis."""

from datetime import UTC, datetime

from redis import Redis

from dashboard.events import STREAM_KEY, append_progress, append_task, parse_entry
from dashboard.models import Progress, TaskState, TaskView

QUEUED = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)


def view(task_id: str, state: TaskState) -> TaskView:
    progress = Progress(percent=100, intermediate="done") if state == TaskState.PROGRESS else None
    return TaskView(
        id=task_id, kind="demo", params={}, state=state, queued_at=QUEUED, progress=progress
    )


def logged_states(redis: Redis, task_id: str) -> list[str]:
    entries = [parse_entry(entry_id, fields) for entry_id, fields in redis.xrange(STREAM_KEY)]
    return [entry.data["state"] for entry in entries if entry.data["id"] == task_id]


def test_a_tick_of_a_run_that_was_cancelled_meanwhile_is_not_logged(redis: Redis) -> None:
    """A probe's /api/events showed REVOKED, then PROGRESS 100 %: the run's last tick was on
    its way when the cancel was recorded."""
    assert append_progress(redis, view("t-1", TaskState.PROGRESS), max_length=100) is not None
    append_task(redis, view("t-1", TaskState.REVOKED), max_length=100)
    assert append_progress(redis, view("t-1", TaskState.PROGRESS), max_length=100) is None
    assert logged_states(redis, "t-1") == ["PROGRESS", "REVOKED"]


def test_a_task_closed_as_lost_takes_no_more_ticks_either(redis: Redis) -> None:
    append_task(redis, view("t-2", TaskState.LOST), max_length=100)
    assert append_progress(redis, view("t-2", TaskState.PROGRESS), max_length=100) is None
    assert append_progress(redis, view("t-3", TaskState.PROGRESS), max_length=100) is not None
    assert logged_states(redis, "t-2") == ["LOST"] and logged_states(redis, "t-3") == ["PROGRESS"]
