"""Migrations 0004 and 0006 on PostgreSQL: pg_trgm and its indexes exist, the models still match the
migrations, searches find what they should, and the planner can answer them from the indexes.

A throwaway database on the machine's PostgreSQL (TEST_POSTGRES_URL); skipped, saying so,
where none answers.
"""

import os
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, Select, insert, select, text
from sqlalchemy.dialects import postgresql
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import Session, SQLModel

from dashboard import crud, migrate, tasksearch
from dashboard.db import make_engine
from dashboard.descriptions import searchable_text
from dashboard.models import FINAL_STATES, Task, TaskState, utcnow
from tests.services import DEFAULT_POSTGRES_URL, throwaway_database

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def database_url() -> Iterator[str]:
    with throwaway_database(os.environ.get("TEST_POSTGRES_URL", DEFAULT_POSTGRES_URL)) as url:
        migrate.upgrade(url)
        yield url


@pytest.fixture(scope="module")
def engine(database_url: str) -> Iterator[Engine]:
    """Enough tasks (20,000) for the planner to prefer an index to reading them all."""
    engine = make_engine(database_url)
    with engine.begin() as connection:
        connection.execute(insert(Task), [task_row(number) for number in range(20_000)])
        connection.execute(text("ANALYZE task"))
    yield engine
    engine.dispose()


def task_row(number: int) -> dict[str, Any]:
    moment = utcnow() - timedelta(seconds=20_000 - number)
    params = {"digits": number, "method": "leibniz" if number % 1000 == 3 else "chudnovsky"}
    return {
        "id": f"{number:08x}-aaaa-4000-8000-000000000000",
        "owner_id": 1,
        "kind": "pi",
        "params": params,
        "params_text": searchable_text("pi", params),
        "state": TaskState.FAILURE if number == 7 else TaskState.SUCCESS,
        "error": "MemoryError: no room" if number == 7 else None,
        "queued_at": moment,
        "finished_at": moment,
    }


def found(engine: Engine, term: str, owner: int | None = 1) -> list[str]:
    with Session(engine) as session:
        rows, _ = crud.page_tasks(
            session, states=FINAL_STATES, search=term, owner_id=owner, cursor=None, limit=5
        )
    return [row.id for row in rows]


def plan(engine: Engine, condition: ColumnElement[bool]) -> str:
    """How PostgreSQL finds the tasks meeting a search's condition when it may not read them
    all: this proves the condition is the very expression an index is made on. (At 20,000 rows
    reading them all would still be cheaper; at a million the planner picks the indexes by
    itself for a rare term, as `bench/history.py --explain` shows.)"""
    query = select(Task.id).where(condition)
    with engine.connect() as connection:
        connection.exec_driver_sql("SET enable_seqscan = off")
        return "\n".join(row[0] for row in connection.execute(explain(query)))


def explain(query: Select[Any]) -> Any:
    compiled = query.compile(dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True})
    return text(f"EXPLAIN {compiled}")


def test_the_extension_and_the_search_indexes_exist(engine: Engine) -> None:
    with engine.connect() as connection:
        extensions = set(connection.execute(text("SELECT extname FROM pg_extension")).scalars())
        indexes = set(connection.execute(text("SELECT indexname FROM pg_indexes")).scalars())
    assert "pg_trgm" in extensions
    assert set(tasksearch.UNMODELLED_INDEXES) <= indexes
    assert {"ix_task_owner_finished", "ix_task_owner_kind_finished"} <= indexes


def test_the_models_match_the_migrations_here_too(engine: Engine) -> None:
    options = {"include_name": tasksearch.in_the_models}
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts=options)
        assert compare_metadata(context, SQLModel.metadata) == []


def test_searches_find_ids_and_text_in_any_case(engine: Engine) -> None:
    assert found(engine, "00000007") == ["00000007-aaaa-4000-8000-000000000000"]
    assert found(engine, "memoryERROR") == ["00000007-aaaa-4000-8000-000000000000"]
    assert found(engine, "12,345 DIGITS") == ["00003039-aaaa-4000-8000-000000000000"]
    assert found(engine, "12345") == ["00003039-aaaa-4000-8000-000000000000"]
    assert found(engine, 'digits": 12345') == []  # the JSON is not what is searched
    assert found(engine, "100%") == []
    assert found(engine, "memoryerror", owner=2) == []


def test_searches_can_be_answered_from_the_search_indexes(engine: Engine) -> None:
    by_text = plan(engine, tasksearch.matching_text("Leibniz", "postgresql"))
    assert "ix_task_params_text_trgm" in by_text and "ix_task_error_trgm" in by_text
    assert "ix_task_id_pattern" in plan(engine, tasksearch.id_prefix("0000012b-aa", "postgresql"))


def index_names(engine: Engine) -> set[str]:
    with engine.connect() as connection:
        return set(connection.execute(text("SELECT indexname FROM pg_indexes")).scalars())


def test_downgrading_removes_them_and_upgrading_fills_in_the_words(
    database_url: str, engine: Engine
) -> None:
    command.downgrade(migrate.alembic_config(database_url), "0005")
    try:
        indexes = index_names(engine)
        assert "ix_task_params_trgm" in indexes and "ix_task_params_text_trgm" not in indexes
        command.downgrade(migrate.alembic_config(database_url), "0003")
        assert not index_names(engine) & {"ix_task_params_trgm", *tasksearch.UNMODELLED_INDEXES}
        migrate.upgrade(database_url)  # gives the 20,000 rows there their words again
        assert found(engine, "12,345 digits") == ["00003039-aaaa-4000-8000-000000000000"]
    finally:
        migrate.upgrade(database_url)
