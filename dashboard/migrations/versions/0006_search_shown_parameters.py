"""Search reads the parameters as the lists show them, not as stored JSON.

Why: the lists show "sleep 2 s · fails" and "1,000 digits · chudnovsky", and that is what
people type. Searching the JSON found every demo task for "fail" (its `should_fail` key) and
none for "fails", "sleep" or "1,000 digits". Each row now keeps those words in `params_text`
(dashboard.descriptions, written with the row), and the search structures of 0004 are made on
it instead of on params:

- SQLite: the FTS5 trigram table and its triggers are made again over (params_text, error),
  with 0005's WHEN on the update trigger, and rebuilt once the rows are filled in.
- PostgreSQL: the trigram index on params::text gives way to one on params_text.

Rows already there get their words here, in batches, before the index is made. On a million
tasks (`bench/history.py`'s) that took 36 s on SQLite and about 4 minutes on PostgreSQL, where
rewriting each row with every index of the table kept up is most of it (a single UPDATE of
every row alone takes 90 s there); writes to the task table wait meanwhile.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-25
"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

from dashboard.descriptions import searchable_text

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BATCH = 5000
TASK = sa.table(
    "task",
    sa.column("id", sa.String),
    sa.column("kind", sa.String),
    sa.column("params", sa.JSON),
    sa.column("params_text", sa.String),
)


def sqlite_search(column: str) -> list[str]:
    """0004's FTS5 table and triggers, with 0005's WHEN, over `column` and error."""
    old = f"old.rowid, old.{column}, old.error"
    new = f"new.rowid, new.{column}, new.error"
    columns = f"rowid, {column}, error"
    forget = f"INSERT INTO task_search(task_search, {columns}) VALUES ('delete', {old}); "
    learn = f"INSERT INTO task_search({columns}) VALUES ({new}); "
    changed = f"old.{column} IS NOT new.{column} OR old.error IS NOT new.error"
    return [
        f"CREATE VIRTUAL TABLE task_search USING fts5({column}, error, content='task', "
        "tokenize='trigram')",
        f"CREATE TRIGGER task_search_insert AFTER INSERT ON task BEGIN {learn}END",
        f"CREATE TRIGGER task_search_delete AFTER DELETE ON task BEGIN {forget}END",
        f"CREATE TRIGGER task_search_update AFTER UPDATE OF {column}, error ON task "
        f"WHEN {changed} BEGIN {forget}{learn}END",
        "INSERT INTO task_search(task_search) VALUES ('rebuild')",
    ]


SQLITE_DROP = [
    *(f"DROP TRIGGER task_search_{event}" for event in ("insert", "delete", "update")),
    "DROP TABLE task_search",
]


def postgresql_index(name: str, expression: str) -> str:
    return f"CREATE INDEX {name} ON task USING gin (({expression}) gin_trgm_ops)"


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    column = sa.Column("params_text", sa.String(), nullable=False, server_default="")
    op.add_column("task", column)
    if dialect == "sqlite":
        _run(SQLITE_DROP)  # before the fill, so its updates are not indexed one by one
    elif dialect == "postgresql":
        _run(["DROP INDEX ix_task_params_trgm"])
    _fill_in_the_words()
    if dialect == "sqlite":
        _run(sqlite_search("params_text"))
    elif dialect == "postgresql":
        _run([postgresql_index("ix_task_params_text_trgm", "params_text")])


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        _run(SQLITE_DROP)
    elif dialect == "postgresql":
        _run(["DROP INDEX ix_task_params_text_trgm"])
    with op.batch_alter_table("task") as batch:  # on SQLite, rebuilds the table
        batch.drop_column("params_text")
    if dialect == "sqlite":
        _run(sqlite_search("params"))
    elif dialect == "postgresql":
        _run([postgresql_index("ix_task_params_trgm", "params::text")])


def _fill_in_the_words() -> None:
    """Every row's words, a batch at a time in id order (a keyset: no OFFSET to walk)."""
    connection = op.get_bind()
    after = ""
    while True:
        query = sa.select(TASK.c.id, TASK.c.kind, TASK.c.params).where(TASK.c.id > after)
        rows = connection.execute(query.order_by(TASK.c.id).limit(BATCH)).all()
        if not rows:
            return
        connection.execute(_set_words(), [_words(row) for row in rows])
        after = rows[-1].id


def _set_words() -> Any:
    return (
        TASK.update()
        .where(TASK.c.id == sa.bindparam("row_id"))
        .values(params_text=sa.bindparam("words"))
    )


def _words(row: Any) -> dict[str, str]:
    return {"row_id": row.id, "words": searchable_text(row.kind, row.params or {})}


def _run(statements: Sequence[str]) -> None:
    for statement in statements:
        op.execute(statement)
