"""The machine's own PostgreSQL and RabbitMQ, for the production-path runs of the tests.

Each is used only when asked for (TEST_DATABASE=postgresql, TEST_BROKER=amqp); one that does
not answer skips the tests that need it, naming what was tried, instead of failing them.
"""

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from kombu import Connection
from kombu.exceptions import OperationalError as KombuOperationalError
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

DEFAULT_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
DEFAULT_AMQP_URL = "amqp://guest:guest@127.0.0.1:5672//"


@contextmanager
def throwaway_database(admin_url: str) -> Iterator[str]:
    """A new, empty database on the server of `admin_url`, dropped afterwards."""
    name = f"dashboard_test_{uuid.uuid4().hex[:10]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    except OperationalError as error:
        admin.dispose()
        pytest.skip(f"no PostgreSQL at {_safe(admin_url)}: {error.orig}")
    try:
        yield make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def emptied_broker(url: str) -> None:
    """Checks the broker answers and empties the default queue: messages a run before this
    one left behind must not reach this run's worker."""
    try:
        with Connection(url, connect_timeout=3) as connection:
            connection.ensure_connection(max_retries=1)
            with connection.channel() as channel:
                channel.queue_declare(queue="celery", durable=True, auto_delete=False)
                channel.queue_purge("celery")
    except (OSError, KombuOperationalError) as error:
        pytest.skip(f"no RabbitMQ at {_safe(url)}: {error}")


def _safe(url: str) -> str:
    return make_url(url).render_as_string(hide_password=True) if "://" in url else url
