"""Alembic environment: runs migrations on the URL that dashboard.migrate passes in."""

from collections.abc import Iterator
from contextlib import contextmanager

from alembic import context
from sqlalchemy import Connection, engine_from_config, pool, text
from sqlmodel import SQLModel

from dashboard import models  # noqa: F401  (registers the tables on SQLModel.metadata)
from dashboard.tasksearch import in_the_models

config = context.config


# Any fixed number: the key of the PostgreSQL advisory lock that migrations take.
MIGRATION_LOCK = 7_318_842_001


@contextmanager
def one_at_a_time(connection: Connection) -> Iterator[None]:
    """Migrations started at once (a replica each, at the same moment) run one after the
    other on PostgreSQL: the first migrates, the others find the schema current. Without it
    two of three failed on creating alembic's own table (scale-out probe). SQLite writes one
    at a time anyway."""
    if connection.dialect.name != "postgresql":
        yield
        return
    connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": MIGRATION_LOCK})
    connection.commit()  # the lock is the session's; alembic's transaction starts after it
    try:
        yield
    finally:
        connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": MIGRATION_LOCK})
        connection.commit()


def run_migrations_online() -> None:
    connectable = engine_from_config(
        config.get_section(config.config_ini_section, {}),
        prefix="sqlalchemy.",
        poolclass=pool.NullPool,
    )
    with connectable.connect() as connection, one_at_a_time(connection):
        context.configure(
            connection=connection,
            target_metadata=SQLModel.metadata,
            render_as_batch=connection.dialect.name == "sqlite",
            # The search structures are made by hand per database (migration 0004).
            include_name=in_the_models,
        )
        with context.begin_transaction():
            context.run_migrations()


run_migrations_online()
