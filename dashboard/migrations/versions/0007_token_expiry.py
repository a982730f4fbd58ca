"""API tokens can expire: `api_token.expires_at`.

Why: a token acted as its user until revoked, however long it lay forgotten in a script or a
dotfile. New tokens last 90 days unless asked otherwise. Tokens made before this revision
keep working until revoked (their expires_at is NULL): expiring them here would cut off
clients without warning.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-25
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from dashboard.models import UTCDateTime

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("api_token", sa.Column("expires_at", UTCDateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("api_token") as table:
        table.drop_column("expires_at")
