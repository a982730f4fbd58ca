"""Task data access on a real SQLite file made by the migrations."""

import base64
from datetime import datetime, timedelta, timezone

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine
from sqlmodel import Session, SQLModel, select

from dashboard import crud, tasksearch
from dashboard.models import FINAL_STATES, Task, TaskState, utcnow


def new_task(session: Session, task_id: str = "t-1", kind: str = "demo") -> Task:
    return crud.create_task(
        session, task_id=task_id, kind=kind, params={"seconds": 1}, owner_id=None
    )


def test_migrations_match_the_models(engine: Engine) -> None:
    # Leaves out the search structures, which migration 0004 makes by hand per database.
    options = {"include_name": tasksearch.in_the_models}
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts=options)
        differences = compare_metadata(context, SQLModel.metadata)
    assert differences == []


def test_a_new_task_is_queued(session: Session) -> None:
    task = new_task(session)
    assert task.state == TaskState.QUEUED and task.queued_at.tzinfo is not None


def test_start_then_final_updates_one_row(session: Session) -> None:
    new_task(session)
    started = crud.mark_started(
        session, task_id="t-1", kind="demo", params={"seconds": 1}, worker="w@h"
    )
    assert started is not None and started.state == TaskState.STARTED and started.attempts == 1
    for _ in range(2):  # a redelivered task records its end again: still one row
        crud.record_final(
            session, task_id="t-1", kind="demo", params={}, state=TaskState.SUCCESS, result={}
        )
    rows = session.exec(select(Task)).all()
    assert len(rows) == 1 and rows[0].state == TaskState.SUCCESS
    assert rows[0].finished_at is not None and rows[0].started_at is not None


def test_each_write_returns_the_row_as_stored(engine: Engine, session: Session) -> None:
    """The writes build their rows from RETURNING (dashboard/taskwrites.py): the same values,
    JSON as dicts and times in UTC, as a fresh read of the row gives."""
    new_task(session)
    started = crud.mark_started(session, task_id="t-1", kind="demo", params={}, worker="w@h")
    ended = crud.record_final(
        session, task_id="t-1", kind="demo", params={}, state=TaskState.SUCCESS, result={"v": 2}
    )
    assert started is not None and ended is not None
    with Session(engine) as fresh:
        stored = fresh.get(Task, "t-1")
        assert stored is not None and stored.model_dump() == ended.model_dump()
    assert ended.params == {"seconds": 1} and ended.result == {"v": 2}
    assert ended.started_at == started.started_at and ended.worker == "w@h"
    assert ended.finished_at is not None and ended.finished_at.tzinfo is not None


def test_a_second_start_counts_attempts(session: Session) -> None:
    new_task(session)
    for _ in range(2):
        row = crud.mark_started(session, task_id="t-1", kind="demo", params={}, worker="w@h")
    assert row is not None and row.attempts == 2


def test_a_late_start_does_not_reopen_a_final_task(session: Session) -> None:
    new_task(session)
    crud.record_final(session, task_id="t-1", kind="demo", params={}, state=TaskState.FAILURE)
    started = crud.mark_started(session, task_id="t-1", kind="demo", params={}, worker="w@h")
    row = crud.get_task(session, task_id="t-1")
    assert started is None
    assert row is not None and row.state == TaskState.FAILURE and row.attempts == 0


def test_a_start_past_the_attempts_limit_is_not_counted(session: Session) -> None:
    new_task(session)
    counted = []
    for _ in range(3):
        row = crud.mark_started(
            session, task_id="t-1", kind="demo", params={}, worker="w@h", max_attempts=2
        )
        counted.append(row.attempts if row else None)
    assert counted == [1, 2, None]
    row = crud.get_task(session, task_id="t-1")
    assert row is not None and row.attempts == 2 and row.state == TaskState.STARTED


def test_a_start_without_a_row_makes_one(session: Session) -> None:
    row = crud.mark_started(session, task_id="x", kind="pi", params={"digits": 5}, worker="w")
    assert row is not None and row.params == {"digits": 5} and row.state == TaskState.STARTED


def test_finished_pages_are_newest_first_and_stable(session: Session) -> None:
    for number in range(7):
        new_task(session, task_id=f"t-{number}")
        crud.record_final(
            session, task_id=f"t-{number}", kind="demo", params={}, state=TaskState.SUCCESS
        )
    seen: list[str] = []
    cursor = None
    for _ in range(10):
        rows, cursor = crud.page_tasks(
            session, states=FINAL_STATES, owner_id=None, cursor=cursor, limit=3
        )
        seen += [row.id for row in rows]
        if cursor is None:
            break
    assert seen == [f"t-{number}" for number in reversed(range(7))]


def test_a_foreign_cursor_is_refused(session: Session) -> None:
    with pytest.raises(ValueError, match="not a cursor"):
        crud.page_tasks(session, states=FINAL_STATES, owner_id=None, cursor="!!nonsense", limit=3)


def test_cursor_round_trip() -> None:
    moment = utcnow()
    assert crud.decode_cursor(crud.encode_cursor(moment, "abc")) == (moment, "abc")


def test_a_cursor_in_another_offset_is_read_in_utc() -> None:
    # SQLite compares the moments as text: "10:00+05:00" must be read as "05:00+00:00".
    east = datetime(2026, 11, 24, 10, 0, tzinfo=timezone(timedelta(hours=5)))
    moment, _ = crud.decode_cursor(crud.encode_cursor(east, "abc"))
    assert moment.isoformat() == "2026-11-24T05:00:00+00:00"


def test_a_cursor_with_a_nul_is_refused() -> None:
    with pytest.raises(ValueError, match="not a cursor"):
        crud.decode_cursor(crud.encode_cursor(utcnow(), "a\x00b"))


@pytest.mark.parametrize("moment", ["0001-01-01T00:00:00+05:00", "9999-12-31T23:59:59-05:00"])
def test_a_cursor_past_the_calendar_in_utc_is_refused(moment: str) -> None:
    forged = base64.urlsafe_b64encode(f"{moment}|x".encode()).decode().rstrip("=")
    with pytest.raises(ValueError, match="not a cursor"):
        crud.decode_cursor(forged)


def test_close_if_active_ends_only_old_active_tasks(session: Session) -> None:
    new_task(session, task_id="old")
    new_task(session, task_id="done")
    crud.record_final(session, task_id="done", kind="demo", params={}, state=TaskState.SUCCESS)
    later = utcnow() + timedelta(seconds=1)
    closed = crud.close_if_active(session, task_id="old", queued_before=later, error="lost")
    assert closed is not None and closed.state == TaskState.LOST and closed.error == "lost"
    assert crud.close_if_active(session, task_id="done", queued_before=later, error="x") is None
    new_task(session, task_id="young")
    earlier = utcnow() - timedelta(minutes=1)
    assert crud.close_if_active(session, task_id="young", queued_before=earlier, error="x") is None


def test_active_task_ids_lists_only_active(engine: Engine, session: Session) -> None:
    new_task(session, task_id="a")
    new_task(session, task_id="b")
    crud.record_final(session, task_id="b", kind="demo", params={}, state=TaskState.FAILURE)
    assert [task_id for task_id, _ in crud.active_task_ids(engine)] == ["a"]


def test_the_first_final_state_wins(session: Session) -> None:
    new_task(session)
    ended = crud.record_final(
        session, task_id="t-1", kind="demo", params={}, state=TaskState.REVOKED, error="cancelled"
    )
    assert ended is not None and ended.state == TaskState.REVOKED
    late = crud.record_final(
        session, task_id="t-1", kind="demo", params={}, state=TaskState.SUCCESS, result={"v": 1}
    )
    assert late is None
    kept = crud.get_task(session, task_id="t-1")
    assert kept is not None and kept.state == TaskState.REVOKED and kept.result is None


def test_a_late_end_replaces_a_lost_but_not_a_cancel(session: Session) -> None:
    """LOST is a guess made while a run's end could not be written; the end, recorded late,
    is what happened. A cancel was a person's decision and stays."""
    for task_id, first in (("lost", TaskState.LOST), ("cancelled", TaskState.REVOKED)):
        new_task(session, task_id=task_id)
        crud.record_final(
            session, task_id=task_id, kind="demo", params={}, state=first, error="guessed"
        )
    ran_until = utcnow() - timedelta(minutes=5)
    end = {"kind": "demo", "params": {}, "state": TaskState.SUCCESS, "result": {"v": 1}}
    assert crud.record_final(session, task_id="lost", **end) is None  # not late: LOST stays
    late = crud.record_final(
        session, task_id="lost", **end, finished_at=ran_until, replaces_lost=True
    )
    assert late is not None and late.state == TaskState.SUCCESS
    assert late.result == {"v": 1} and late.error is None and late.finished_at == ran_until
    assert crud.record_final(session, task_id="cancelled", **end, replaces_lost=True) is None
    kept = crud.get_task(session, task_id="cancelled")
    assert kept is not None and kept.state == TaskState.REVOKED


def test_ids_no_task_can_have_are_simply_not_found(session: Session) -> None:
    assert crud.get_task(session, task_id="a\x00b") is None
    assert crud.get_task(session, task_id="x" * 65) is None


def test_list_active_lists_active_tasks_newest_first_of_one_owner_or_all(
    session: Session,
) -> None:
    for task_id, owner_id in (("a", 1), ("b", 2), ("c", 1), ("done", 1)):
        crud.create_task(session, task_id=task_id, kind="demo", params={}, owner_id=owner_id)
    crud.record_final(session, task_id="done", kind="demo", params={}, state=TaskState.SUCCESS)
    assert [row.id for row in crud.list_active(session, owner_id=1)] == ["c", "a"]
    assert [row.id for row in crud.list_active(session, owner_id=None)] == ["c", "b", "a"]


def test_a_backlog_past_the_limit_keeps_every_running_task_and_the_newest_queued(
    session: Session,
) -> None:
    for number in range(6):  # queued in this order: q0 is the oldest
        crud.create_task(session, task_id=f"q{number}", kind="demo", params={}, owner_id=1)
    for task_id in ("q0", "q1"):  # the two oldest are the ones running
        crud.mark_started(session, task_id=task_id, kind="demo", params={}, worker="w@h")
    shown = [row.id for row in crud.list_active(session, owner_id=1, limit=4)]
    assert shown == ["q0", "q1", "q5", "q4"]  # the running ones first, as they started
    assert [row.id for row in crud.list_active(session, owner_id=1, limit=2)] == ["q0", "q1"]


def test_a_short_id_finds_its_owners_task_and_only_when_it_is_the_only_one(
    session: Session,
) -> None:
    for task_id, owner in [
        ("1a2b3c4d-0000-4000-8000-000000000001", 1),
        ("1a2b3c4e-0000-4000-8000-000000000002", 1),
        ("1a2b3c4f-0000-4000-8000-000000000003", 2),
        ("1a2b3c4f-1111-4000-8000-000000000004", 2),
    ]:
        crud.create_task(session, task_id=task_id, kind="demo", params={}, owner_id=owner)
    find = crud.ids_starting_with
    assert find(session, prefix="1a2b3c4d", owner_id=1) == ["1a2b3c4d-0000-4000-8000-000000000001"]
    assert find(session, prefix="1a2b3c4f", owner_id=1) == []  # another's
    assert len(find(session, prefix="1a2b3c4f", owner_id=None)) == 2  # an admin's: ambiguous
    assert len(find(session, prefix="1a2b3c", owner_id=1)) == 2
    assert find(session, prefix="1a2b3c4f-1", owner_id=None) == [
        "1a2b3c4f-1111-4000-8000-000000000004"
    ]
