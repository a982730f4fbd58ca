"""SQLite's search index is rewritten on an update only when the text it indexes changed.

Why: every task's end sets `error` (to NULL, on success), which fired the update trigger of
0004 and had FTS5 delete and re-insert the row's trigrams for text that had not changed: the
larger part of the cost of recording an end (`make bench`, throughput). The trigger now says
WHEN; PostgreSQL's trigram indexes need no such help.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-24
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

REINDEX_ROW = (
    "INSERT INTO task_search(task_search, rowid, params, error) "
    "VALUES ('delete', old.rowid, old.params, old.error); "
    "INSERT INTO task_search(rowid, params, error) VALUES (new.rowid, new.params, new.error); "
)
WHEN_CHANGED = "WHEN old.params IS NOT new.params OR old.error IS NOT new.error "


def upgrade() -> None:
    _replace_trigger(WHEN_CHANGED)


def downgrade() -> None:
    _replace_trigger("")


def _replace_trigger(condition: str) -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    op.execute("DROP TRIGGER task_search_update")
    op.execute(
        "CREATE TRIGGER task_search_update AFTER UPDATE OF params, error ON task "
        f"{condition}BEGIN {REINDEX_ROW}END"
    )
