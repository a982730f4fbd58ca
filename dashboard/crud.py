"""Data access for tasks: keyword-only functions that know nothing of HTTP or Celery."""

import base64
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, func, tuple_, update
from sqlmodel import Session, col, select

from dashboard import tasksearch, taskwrites
from dashboard.descriptions import searchable_text
from dashboard.models import (
    ACTIVE_STATES,
    FILE_KINDS,
    FINAL_STATES,
    RUNNING_STATES,
    Task,
    TaskKind,
    TaskState,
    utcnow,
)

MAX_TASK_ID = 64
# The Active list's length: past it, a backlog's oldest queued tasks wait unseen (the page says).
ACTIVE_LIMIT = 500


def create_task(
    session: Session,
    *,
    task_id: str,
    kind: str,
    params: dict[str, Any],
    owner_id: int | None,
    notify_email: bool = False,
    retry_of: str | None = None,
) -> Task:
    task = Task(
        id=task_id,
        kind=kind,
        params=params,
        params_text=searchable_text(kind, params),
        owner_id=owner_id,
        state=TaskState.QUEUED,
        notify_email=notify_email,
        retry_of=retry_of,
    )
    return taskwrites.insert(session, task)


def get_task(session: Session, *, task_id: str, fresh: bool = False) -> Task | None:
    """The row; `fresh` reads it again even when the session holds it already (as it was)."""
    # No task id is longer, or holds a NUL (which PostgreSQL refuses outright): not found.
    if len(task_id) > MAX_TASK_ID or "\x00" in task_id:
        return None
    found = session.get(Task, task_id, populate_existing=fresh)
    if found is None and task_id != task_id.lower():
        # Ids are lowercase UUIDs; one copied in capitals (as some tools show UUIDs) is the
        # same task, as the search already finds it.
        found = session.get(Task, task_id.lower(), populate_existing=fresh)
    return found


def ids_starting_with(session: Session, *, prefix: str, owner_id: int | None) -> list[str]:
    """Up to two ids of tasks (the owner's, or anyone's for None) that start with `prefix`:
    the short ids the lists show."""
    dialect = session.get_bind().dialect.name
    query = select(Task.id).where(tasksearch.id_begins_with(prefix, dialect))
    if owner_id is not None:
        query = query.where(Task.owner_id == owner_id)
    return list(session.exec(query.limit(2)))


def mark_started(
    session: Session,
    *,
    task_id: str,
    kind: str,
    params: dict[str, Any],
    worker: str,
    max_attempts: int | None = None,
) -> Task | None:
    """Records a start and returns the row; None when the task is not to start: it has ended
    already (a late redelivery), or it has been started `max_attempts` times."""
    values = {
        "id": task_id,
        "kind": kind,
        "params": params,
        "params_text": searchable_text(kind, params),
        "state": TaskState.STARTED,
        "now": utcnow(),
        "worker": worker,
        "max_attempts": max_attempts,
    }
    return taskwrites.upsert_started(session, values)


def record_final(
    session: Session,
    *,
    task_id: str,
    kind: str,
    params: dict[str, Any],
    state: TaskState,
    result: dict[str, Any] | None = None,
    error: str | None = None,
    finished_at: datetime | None = None,
    replaces_lost: bool = False,
) -> Task | None:
    """Upserts the final state keyed by task id, so a redelivered task never adds a row.

    The first final state wins: a task cancelled (REVOKED) while it ran stays cancelled when
    it finishes after all. Returns the row, or None when the task had already ended.
    `finished_at` is now unless the end is recorded later than it happened.

    `replaces_lost`: the end its run reported, recorded late (its database was away). LOST
    was only a guess made meanwhile (its claim was let go and, after a restart, no message
    named it), and the run's end is what happened.
    """
    values = {
        "id": task_id,
        "kind": kind,
        "params": params,
        "params_text": searchable_text(kind, params),
        "state": state,
        "result": result,
        "error": error,
        "now": finished_at or utcnow(),
    }
    return taskwrites.upsert_final(session, values, replaces_lost=replaces_lost)


def close_if_active(
    session: Session, *, task_id: str, queued_before: datetime, error: str
) -> Task | None:
    """Ends a task that can no longer run as LOST; returns None if it was not active."""
    statement = (
        update(Task)
        .where(col(Task.id) == task_id)
        .where(col(Task.state).in_(ACTIVE_STATES))
        .where(col(Task.queued_at) < queued_before)
        .values(state=TaskState.LOST, error=error, finished_at=utcnow())
    )
    changed = session.exec(statement).rowcount
    session.commit()
    return get_task(session, task_id=task_id) if changed else None


def list_active(session: Session, *, owner_id: int | None, limit: int = ACTIVE_LIMIT) -> list[Task]:
    """Active tasks of one owner, or of everyone when owner_id is None (an admin's view):
    the running ones first, in the order they started, then the queued ones, newest first
    (the page keeps the running ones above the queue live: dashboard.js runningFirst). Past
    the limit (a large backlog) every running task is kept, and the newest queued ones fill
    the rest: the work in progress always shows, at the top (QA: below a long queue it was
    out of sight)."""
    running = list(session.exec(_active_query(owner_id, RUNNING_STATES).limit(limit)))
    running.sort(key=lambda row: (row.started_at or row.queued_at, row.id))
    queued = _active_query(owner_id, (TaskState.QUEUED,)).limit(limit - len(running))
    return running + list(session.exec(queued))


def _active_query(owner_id: int | None, states: Sequence[TaskState]) -> Any:
    query = select(Task).where(col(Task.state).in_(states))
    if owner_id is not None:
        # Active tasks are few however long the history: they are found by state and then the
        # owner's kept. (`+ 0` keeps SQLite, which has no statistics, from walking the owner's
        # whole history in queue order instead, on their index.)
        query = query.where(col(Task.owner_id) + 0 == owner_id)
    return query.order_by(col(Task.queued_at).desc(), col(Task.id).desc())


def page_tasks(
    session: Session,
    *,
    states: Sequence[TaskState],
    owner_id: int | None,
    cursor: str | None,
    limit: int,
    kinds: Sequence[TaskKind] = (),
    search: str = "",
) -> tuple[list[Task], str | None]:
    """A page of tasks, newest first, and the cursor of the next page (None on the last).

    Only one owner's tasks, or everyone's when owner_id is None (an admin's view); only the
    given states, and kinds when any are given; only those the search term finds
    (dashboard.tasksearch), when there is one.

    Final tasks are ordered by when they finished, active ones by when they were queued.
    Keyset pagination: a cursor names the last row seen, so pages stay stable while rows arrive.
    """
    final = _all_final(states)
    moment_and_id = decode_cursor(cursor) if cursor else None

    def listing(task: Any) -> Any:
        return _listing(task, states, kinds, owner_id, final, moment_and_id)

    if search:
        rows = tasksearch.find(session, listing, search, owner_id=owner_id, count=limit + 1)
    else:
        rows = list(session.exec(listing(Task).limit(limit + 1)))
    if len(rows) <= limit:
        return rows, None
    last = rows[limit - 1]
    moment_of_last = last.finished_at if final else last.queued_at
    assert moment_of_last is not None
    return rows[:limit], encode_cursor(moment_of_last, last.id)


def _listing(
    task: Any,
    states: Sequence[TaskState],
    kinds: Sequence[TaskKind],
    owner_id: int | None,
    final: bool,
    after: tuple[datetime, str] | None,
) -> Any:
    """The list's select over `task` (Task, or an alias of it that a search narrowed)."""
    order = task.finished_at if final else task.queued_at
    query = select(task)
    if owner_id is not None:
        query = query.where(task.owner_id == owner_id)
    if final:
        # Only final tasks have a finished_at, so "every final state" needs no list of states,
        # which would have the database read each state's part of an index and merge them.
        query = query.where(task.finished_at.is_not(None))
    if set(states) not in ({*TaskState}, {*FINAL_STATES}):
        query = query.where(task.state.in_(states))
    if kinds:
        query = query.where(task.kind.in_(kinds))
    if after is not None:
        query = query.where(tuple_(order, task.id) < tuple_(*after))
    return query.order_by(order.desc(), task.id.desc())


def _all_final(states: Sequence[TaskState]) -> bool:
    return all(state in FINAL_STATES for state in states)


def encode_cursor(moment: datetime, task_id: str) -> str:
    raw = f"{moment.isoformat()}|{task_id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    """Raises ValueError for a cursor this module did not make."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        moment, task_id = base64.urlsafe_b64decode(padded).decode().split("|", 1)
        if "\x00" in task_id:  # PostgreSQL refuses it in a query
            raise ValueError("a NUL in its task id")
        return _in_utc(datetime.fromisoformat(moment)), task_id
    # OverflowError: a moment at the edge of the calendar that UTC would take past it.
    except (UnicodeDecodeError, ValueError, OverflowError) as error:
        raise ValueError("not a cursor from this API") from error


def _in_utc(moment: datetime) -> datetime:
    # A cursor this module made is in UTC; another offset, compared as text on SQLite, would
    # give the wrong page.
    return moment.astimezone(UTC) if moment.tzinfo is not None else moment


def active_task_ids(engine: Engine) -> list[tuple[str, str | None]]:
    """Ids and workers of every task SQL still shows as active (for recovery after restarts)."""
    with Session(engine) as session:
        query = select(Task.id, Task.worker).where(col(Task.state).in_(ACTIVE_STATES))
        return [(task_id, worker) for task_id, worker in session.exec(query)]


def history_of(session: Session, *, owner_id: int, batch: int = 1000) -> Iterator[Task]:
    """Every task of one owner, oldest first, fetched in batches rather than all at once."""
    query = select(Task).where(col(Task.owner_id) == owner_id)
    query = query.order_by(col(Task.queued_at), col(Task.id)).execution_options(yield_per=batch)
    yield from session.exec(query)


def count_active(session: Session, *, owner_id: int, up_to: int) -> int:
    """How many of an owner's tasks are queued or running, counted no further than `up_to`
    (a backlog of thousands costs no more than the limit it is held to)."""
    active = (
        select(col(Task.id))
        .where(col(Task.owner_id) == owner_id)
        .where(col(Task.state).in_(ACTIVE_STATES))
        .limit(up_to)
        .subquery()
    )
    return int(session.exec(select(func.count()).select_from(active)).one())


def count_of(session: Session, *, owner_id: int) -> int:
    query = select(func.count()).select_from(Task).where(col(Task.owner_id) == owner_id)
    return int(session.exec(query).one())


def files_to_expire(session: Session, *, finished_before: datetime, limit: int) -> list[Task]:
    """Successful tasks older than the retention whose files have not been deleted yet."""
    query = (
        select(Task)
        .where(col(Task.state) == TaskState.SUCCESS)
        .where(col(Task.kind).in_(FILE_KINDS))
        .where(col(Task.finished_at) < finished_before)
        .where(col(Task.file_expired_at).is_(None))
        .order_by(col(Task.finished_at))
        .limit(limit)
    )
    return list(session.exec(query))


def mark_file_expired(session: Session, *, task_id: str) -> Task | None:
    row = get_task(session, task_id=task_id)
    if row is None or row.file_expired_at is not None:
        return None
    row.file_expired_at = utcnow()
    session.add(row)
    session.commit()
    session.refresh(row)
    return row
