"""Applies the Alembic migrations; configured in code, so no alembic.ini is needed."""

from functools import cache
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    # Alembic's config is %-interpolated: a password with % must be escaped.
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


def upgrade(database_url: str) -> None:
    if database_url.startswith("sqlite:///"):
        Path(database_url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    command.upgrade(alembic_config(database_url), "head")


@cache
def head_revision() -> str | None:
    """The revision this code's schema is at: the newest migration."""
    return ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()


def current_revision(connection: Connection) -> str | None:
    """The revision the database is at; None before any migration."""
    return MigrationContext.configure(connection).get_current_revision()


def schema_problem(connection: Connection) -> str | None:
    """Why this code cannot work on the database yet, or None when it is at the head."""
    current, wanted = current_revision(connection), head_revision()
    if current == wanted:
        return None
    return f"not migrated: at {current or 'no revision'}, this code needs {wanted}"
