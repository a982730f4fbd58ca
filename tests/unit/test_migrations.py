"""Migrations 0004 to 0006 on SQLite: the FTS5 trigram table exists, indexes the rows already
there, and its triggers keep it in step with every insert, update (upserts too) and delete.
Since 0006 it reads the parameters' shown words (`params_text`), not their JSON.

FTS5's own integrity-check compares the index with the task table, so a trigger that missed a
change fails it.
"""

from pathlib import Path

from alembic import command
from sqlalchemy import Engine, text
from sqlmodel import Session

from dashboard import crud, migrate
from dashboard.db import make_engine
from dashboard.models import Task, TaskState


def search_index(engine: Engine, phrase: str) -> list[str]:
    """Task ids whose parameters' words or error the FTS table says hold the phrase."""
    query = text(
        "SELECT task.id FROM task_search JOIN task ON task.rowid = task_search.rowid "
        "WHERE task_search MATCH :phrase ORDER BY task.id"
    )
    with engine.connect() as connection:
        return list(connection.execute(query, {"phrase": f'"{phrase}"'}).scalars())


def assert_in_step(engine: Engine) -> None:
    with engine.begin() as connection:
        connection.execute(
            text("INSERT INTO task_search(task_search, rank) VALUES ('integrity-check', 1)")
        )


def test_the_search_structures_exist(engine: Engine) -> None:
    with engine.connect() as connection:
        names = set(connection.execute(text("SELECT name FROM sqlite_master")).scalars())
    triggers = {f"task_search_{event}" for event in ("insert", "update", "delete")}
    assert {"task_search", *triggers} <= names
    assert {"ix_task_owner_finished", "ix_task_owner_kind_finished", "ix_task_finished"} <= names


def test_inserts_updates_and_deletes_reach_the_index(engine: Engine, session: Session) -> None:
    crud.create_task(session, task_id="a", kind="pi", params={"method": "Chudnovsky"}, owner_id=1)
    assert search_index(engine, "chudnov") == ["a"]
    crud.mark_started(session, task_id="a", kind="pi", params={}, worker="w@h")  # an upsert
    crud.record_final(
        session, task_id="a", kind="pi", params={}, state=TaskState.FAILURE, error="Disk full"
    )
    assert search_index(engine, "disk full") == ["a"] and search_index(engine, "chudnov") == ["a"]
    row = session.get(Task, "a")
    assert row is not None
    row.params_text = "method=leibniz"
    session.add(row)
    session.commit()
    assert search_index(engine, "chudnov") == [] and search_index(engine, "leibniz") == ["a"]
    assert_in_step(engine)
    session.delete(row)
    session.commit()
    assert search_index(engine, "leibniz") == [] and search_index(engine, "disk full") == []
    assert_in_step(engine)


def test_an_end_that_leaves_the_text_as_it_was_keeps_its_index_entry(
    engine: Engine, session: Session
) -> None:
    """Migrations 0005 and 0006: the update trigger reindexes a row only when its words or its
    error changed."""
    crud.create_task(session, task_id="b", kind="demo", params={"seconds": 7}, owner_id=1)
    crud.mark_started(session, task_id="b", kind="demo", params={}, worker="w@h")
    ended = crud.record_final(
        session, task_id="b", kind="demo", params={}, state=TaskState.SUCCESS, result={"v": 1}
    )
    assert ended is not None and ended.error is None
    assert search_index(engine, "sleep 7 s") == ["b"]
    assert_in_step(engine)
    with engine.connect() as connection:
        trigger = connection.execute(
            text("SELECT sql FROM sqlite_master WHERE name = 'task_search_update'")
        ).scalar_one()
    assert "WHEN old.params_text IS NOT new.params_text OR old.error IS NOT new.error" in trigger


def insert_as_at_0003(engine: Engine, task_id: str, params: str) -> None:
    """A row as the app wrote it before migration 0006 (no params_text column)."""
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO task (id, owner_id, kind, params, state, queued_at, attempts, "
                "notify_email) VALUES (:id, 1, 'csv', :params, 'SUCCESS', "
                "'2026-11-01 00:00:00', 1, 0)"
            ),
            {"id": task_id, "params": params},
        )


def update_trigger(engine: Engine) -> str:
    with engine.connect() as connection:
        query = text("SELECT sql FROM sqlite_master WHERE name = 'task_search_update'")
        return str(connection.execute(query).scalar_one())


def test_upgrading_gives_the_tasks_already_there_their_words_and_indexes_them(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    command.upgrade(migrate.alembic_config(url), "0003")
    engine = make_engine(url)
    insert_as_at_0003(engine, "old", '{"source": "sample", "rows": 12345}')
    migrate.upgrade(url)
    with Session(engine) as session:
        row = session.get(Task, "old")
        assert row is not None and row.params_text == "12,345 sample rows 12345"
    assert search_index(engine, "12,345 sample rows") == ["old"]
    assert search_index(engine, "12345") == ["old"] and search_index(engine, "source") == []
    assert_in_step(engine)
    engine.dispose()


def test_downgrading_brings_back_the_search_over_json_then_removes_it(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    migrate.upgrade(url)
    engine = make_engine(url)
    with Session(engine) as session:
        crud.create_task(session, task_id="new", kind="csv", params={"rows": 12345}, owner_id=1)
    command.downgrade(migrate.alembic_config(url), "0005")
    assert search_index(engine, '""rows"": 12345') == ["new"]  # the JSON again
    assert "WHEN old.params IS NOT new.params" in update_trigger(engine)
    assert_in_step(engine)
    command.downgrade(migrate.alembic_config(url), "0003")
    with engine.connect() as connection:
        left = connection.execute(text("SELECT name FROM sqlite_master WHERE name LIKE '%search%'"))
        assert list(left) == []
    engine.dispose()
