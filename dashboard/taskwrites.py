"""The three writes every task's life makes (queued, started, ended), built once per database.

Why not the ORM: these run for every task, and most of their cost was SQLAlchemy's, not the
database's. Building an ORM statement from literal values each time and loading its RETURNING
row into the session took two to three times the CPU of executing a Core statement built once,
with parameters, and making the row from its columns: on SQLite, 0.79 against 0.33 ms per
start and 0.61 against 0.44 ms per insert (`bench.phases` shows them in the worker). The rows
returned are plain Task objects, not attached to the session.
"""

from functools import cache
from typing import Any

from sqlalchemy import bindparam
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session

from dashboard.models import ACTIVE_STATES, Task, TaskState

TABLE: Any = Task.__table__  # type: ignore[attr-defined]
# RETURNING every column makes the row as written: nothing is read back after a write.
COLUMNS = tuple(TABLE.columns)


def insert(session: Session, task: Task) -> Task:
    """Inserts a new row; every column's value is set on `task`, so nothing is read back."""
    values = {column.name: getattr(task, column.name) for column in COLUMNS}
    session.connection().execute(_insert_statement(), values)
    session.commit()
    return task


def upsert_started(session: Session, values: dict[str, Any]) -> Task | None:
    """The row as started, or None when it was not active (or, with a `max_attempts` value,
    had been started that many times already)."""
    limited = values.get("max_attempts") is not None
    return _returned(session, _start_statement(_dialect(session), limited), values)


def upsert_final(
    session: Session, values: dict[str, Any], *, replaces_lost: bool = False
) -> Task | None:
    """The row as ended, or None when it had ended already: the first final state wins, except
    that a run's own end recorded late (`replaces_lost`) replaces a LOST, which was a guess."""
    statement = _final_statement(_dialect(session), replaces_lost)
    return _returned(session, statement, values)


def _returned(session: Session, statement: Any, values: dict[str, Any]) -> Task | None:
    row = session.connection().execute(statement, values).one_or_none()
    session.commit()
    return None if row is None else _task(row)


def _task(row: Any) -> Task:
    # Column values come converted by their types (JSON, UTC datetimes) already.
    return Task(**row._mapping)


def _dialect(session: Session) -> str:
    return session.get_bind().dialect.name


@cache
def _insert_statement() -> Any:
    return TABLE.insert()


def _upsert(dialect: str, **values: Any) -> Any:
    """An insert of a task's row with these values besides those every write gives."""
    module: Any = postgresql if dialect == "postgresql" else sqlite
    return module.insert(TABLE).values(
        id=bindparam("id"),
        kind=bindparam("kind"),
        params=bindparam("params"),
        params_text=bindparam("params_text"),
        state=bindparam("state"),
        queued_at=bindparam("now"),
        **values,
    )


def _returning_on_conflict(statement: Any, changes: dict[str, Any], condition: Any) -> Any:
    """The row already there is changed only where `condition` holds; RETURNING, not rowcount,
    tells: PostgreSQL's driver counts a conflict whose update was skipped."""
    upsert = statement.on_conflict_do_update(index_elements=["id"], set_=changes, where=condition)
    return upsert.returning(*COLUMNS)


@cache
def _start_statement(dialect: str, limited: bool) -> Any:
    statement = _upsert(
        dialect, started_at=bindparam("now"), worker=bindparam("worker"), attempts=1
    )
    condition = TABLE.c.state.in_(ACTIVE_STATES)
    if limited:
        condition = condition & (TABLE.c.attempts < bindparam("max_attempts"))
    changes = {
        "state": statement.excluded.state,
        "started_at": statement.excluded.started_at,
        "worker": statement.excluded.worker,
        "attempts": TABLE.c.attempts + 1,
    }
    return _returning_on_conflict(statement, changes, condition)


@cache
def _final_statement(dialect: str, replaces_lost: bool) -> Any:
    statement = _upsert(
        dialect, result=bindparam("result"), error=bindparam("error"), finished_at=bindparam("now")
    )
    changes = {name: statement.excluded[name] for name in ("state", "result", "error")}
    changes["finished_at"] = statement.excluded.finished_at
    replaceable = (*ACTIVE_STATES, TaskState.LOST) if replaces_lost else ACTIVE_STATES
    return _returning_on_conflict(statement, changes, TABLE.c.state.in_(replaceable))
