"""Alembic environment: runs migrations on the URL that dashboard.migrate passes in."""

from alembic import context
from sqlalchemy import engine_from_config, pool
from sqlmodel import SQLModel

from dashboard import models  # noqa: F401  (registers the tables on SQLModel.metadata)
from dashboard.tasksearch import in_the_models

config = context.config


def run_migrations_online() -> None:
    connectable = engine_from_config(
        config.get_section(config.config_ini_section, {}),
        prefix="sqlalchemy.",
        poolclass=pool.NullPool,
    )
    with connectable.connect() as connection:
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
