"""The finished list at scale: an index per filter in keyset order, and search structures.

The btree indexes (declared on the model) serve each list and filter in its own order,
(finished_at, id), for one owner and for everyone.

The search box looks for an id prefix and for text in a task's parameters and error. What
makes that fast differs per database, so this migration makes it by hand and the models do not
describe it (dashboard.tasksearch tells the model comparison to leave it out):

- PostgreSQL: pg_trgm GIN indexes on params::text and on error, which ILIKE '%term%' uses,
  and a varchar_pattern_ops index on id, so that LIKE 'prefix%' is answered by an index
  whatever the database's collation.
- SQLite: an FTS5 table with the trigram tokenizer (SQLite 3.34 or newer) over the same two
  columns. Its content is the task table itself (external content: the text is not stored
  twice); triggers keep it in step, keyed by the task's rowid. A later migration that rebuilds
  the task table (Alembic's batch mode does on SQLite) drops these triggers with it and must
  make them again, then rebuild the index: INSERT INTO task_search(task_search) VALUES('rebuild').

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-24
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BTREE_INDEXES = {
    "ix_task_finished": ["finished_at", "id"],
    "ix_task_owner_finished": ["owner_id", "finished_at", "id"],
    "ix_task_kind_finished": ["kind", "finished_at", "id"],
    "ix_task_owner_kind_finished": ["owner_id", "kind", "finished_at", "id"],
    "ix_task_queued": ["queued_at", "id"],
}
TRIGRAM_SQLITE = (3, 34, 0)
SQLITE_SEARCH = [
    "CREATE VIRTUAL TABLE task_search USING fts5("
    "params, error, content='task', tokenize='trigram')",
    "CREATE TRIGGER task_search_insert AFTER INSERT ON task BEGIN "
    "INSERT INTO task_search(rowid, params, error) VALUES (new.rowid, new.params, new.error); "
    "END",
    "CREATE TRIGGER task_search_delete AFTER DELETE ON task BEGIN "
    "INSERT INTO task_search(task_search, rowid, params, error) "
    "VALUES ('delete', old.rowid, old.params, old.error); "
    "END",
    "CREATE TRIGGER task_search_update AFTER UPDATE OF params, error ON task BEGIN "
    "INSERT INTO task_search(task_search, rowid, params, error) "
    "VALUES ('delete', old.rowid, old.params, old.error); "
    "INSERT INTO task_search(rowid, params, error) VALUES (new.rowid, new.params, new.error); "
    "END",
    # Indexes the rows already there.
    "INSERT INTO task_search(task_search) VALUES ('rebuild')",
]
POSTGRESQL_SEARCH = [
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    "CREATE INDEX ix_task_params_trgm ON task USING gin ((params::text) gin_trgm_ops)",
    "CREATE INDEX ix_task_error_trgm ON task USING gin (error gin_trgm_ops)",
    "CREATE INDEX ix_task_id_pattern ON task (id varchar_pattern_ops)",
]


def upgrade() -> None:
    for name, columns in BTREE_INDEXES.items():
        op.create_index(name, "task", columns)
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        _require_trigram_tokenizer()
        _run(SQLITE_SEARCH)
    elif dialect == "postgresql":
        _run(POSTGRESQL_SEARCH)


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        _run([f"DROP TRIGGER task_search_{event}" for event in ("insert", "delete", "update")])
        _run(["DROP TABLE task_search"])
    elif dialect == "postgresql":
        _run([f"DROP INDEX {name}" for name in ("ix_task_params_trgm", "ix_task_error_trgm")])
        _run(["DROP INDEX ix_task_id_pattern"])
    for name in reversed(BTREE_INDEXES):
        op.drop_index(name, table_name="task")


def _require_trigram_tokenizer() -> None:
    text = op.get_bind().execute(sa.text("SELECT sqlite_version()")).scalar_one()
    version = tuple(int(part) for part in text.split("."))
    if version < TRIGRAM_SQLITE:
        wanted = ".".join(map(str, TRIGRAM_SQLITE))
        raise RuntimeError(f"search needs SQLite {wanted} or newer (its trigram tokenizer): {text}")


def _run(statements: Sequence[str]) -> None:
    for statement in statements:
        op.execute(statement)
