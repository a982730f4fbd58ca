"""Accounts: users, login sessions, API tokens; tasks gain e-mail and file-expiry columns.

Existing tasks are kept as they are: they have no owner, and only an admin's "all users"
view shows them.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from dashboard.models import UTCDateTime

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    _create_users()
    _create_login_sessions()
    _create_api_tokens()
    op.add_column(
        "task",
        sa.Column("notify_email", sa.Boolean(), nullable=False, server_default=sa.false()),
    )
    op.add_column("task", sa.Column("file_expired_at", UTCDateTime(), nullable=True))
    op.create_index(
        "ix_task_owner_state_finished", "task", ["owner_id", "state", "finished_at", "id"]
    )


def _create_users() -> None:
    op.create_table(
        "user_account",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=False),
        sa.Column("is_admin", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("created_at", UTCDateTime(), nullable=False),
    )
    op.create_index("ix_user_account_email", "user_account", ["email"], unique=True)


def _create_login_sessions() -> None:
    op.create_table(
        "login_session",
        sa.Column("token_hash", sa.String(length=64), primary_key=True),
        sa.Column(
            "user_id",
            sa.Integer(),
            sa.ForeignKey("user_account.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("csrf_token", sa.String(length=64), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
    )
    op.create_index("ix_login_session_user_id", "login_session", ["user_id"])


def _create_api_tokens() -> None:
    op.create_table(
        "api_token",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "user_id",
            sa.Integer(),
            sa.ForeignKey("user_account.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("prefix", sa.String(length=16), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("last_used_at", UTCDateTime(), nullable=True),
        sa.Column("revoked_at", UTCDateTime(), nullable=True),
    )
    op.create_index("ix_api_token_user_id", "api_token", ["user_id"])
    op.create_index("ix_api_token_token_hash", "api_token", ["token_hash"], unique=True)


def downgrade() -> None:
    op.drop_index("ix_task_owner_state_finished", table_name="task")
    with op.batch_alter_table("task") as batch:
        batch.drop_column("file_expired_at")
        batch.drop_column("notify_email")
    op.drop_table("api_token")
    op.drop_table("login_session")
    op.drop_table("user_account")
