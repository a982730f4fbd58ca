"""The owner a task message names in its header, noted for the worker's log lines."""

import logging

from dashboard import taskrequest
from dashboard.logcontext import TaskContextFilter


def test_only_a_user_id_counts_as_an_owner() -> None:
    assert taskrequest.owner_in(7) == 7
    assert taskrequest.owner_in(None) is None
    assert taskrequest.owner_in("7") is None
    assert taskrequest.owner_in(True) is None


def test_a_noted_owner_tags_celerys_own_line_about_the_task() -> None:
    taskrequest.remember_owner("t-owned", 42)
    record = logging.LogRecord("celery", logging.INFO, __file__, 1, "received", None, None)
    record.data = {"id": "t-owned"}
    assert TaskContextFilter().filter(record)
    assert (record.task_id, record.user) == ("t-owned", 42)


def test_the_notes_stay_bounded() -> None:
    for number in range(taskrequest.REMEMBERED + 5):
        taskrequest.remember_owner(f"t-{number}", number)
    assert taskrequest.owner_noted("t-0") is None
    assert taskrequest.owner_noted(f"t-{taskrequest.REMEMBERED + 4}") == taskrequest.REMEMBERED + 4
