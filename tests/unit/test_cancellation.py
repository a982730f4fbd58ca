"""Cancelling a task that ended meanwhile says how it ended (real SQLite)."""

from typing import Any

import pytest
from sqlmodel import Session

from dashboard import cancellation, crud
from dashboard.accounts.viewer import Viewer
from dashboard.models import TaskState


def test_a_second_cancel_at_once_says_the_task_was_cancelled(session: Session) -> None:
    """Two cancels at once both read the row as running; the second's refusal quoted that
    state ("ended already (STARTED)", probe finding) instead of how it had ended."""
    crud.create_task(session, task_id="t-1", kind="demo", params={}, owner_id=None)
    crud.mark_started(session, task_id="t-1", kind="demo", params={}, worker="w@box")
    stale = crud.get_task(session, task_id="t-1")  # as the second cancel read it
    assert stale is not None and stale.state == TaskState.STARTED
    crud.record_final(
        session, task_id="t-1", kind="demo", params={}, state=TaskState.REVOKED, error="by ann"
    )
    services: Any = None  # a refused cancel tells nobody anything
    by = Viewer(id=2, email="bob@example.com", is_admin=False, csrf_token=None)
    with pytest.raises(cancellation.NotCancellable, match=r"ended already \(REVOKED\)"):
        cancellation.cancel(services, session, stale, by)
