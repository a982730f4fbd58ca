"""Engine and sessions.

SQLite is the embedded default: web and worker processes write to the same file, so it runs
in WAL mode with a busy timeout instead of failing with "database is locked".
"""

from typing import Any

from sqlalchemy import Engine, event
from sqlmodel import create_engine

from dashboard.settings import Settings


def make_engine(url: str, *, pool_size: int = 5, max_overflow: int = 10) -> Engine:
    """`pool_size` connections kept open per process, and up to `max_overflow` more at busy
    moments (DB_POOL_SIZE, DB_MAX_OVERFLOW): web replicas times WEB_CONCURRENCY times their
    sum, plus the workers' pool processes, must stay under the server's max_connections."""
    # A failed statement's parameters stay out of its error, and so out of logged tracebacks:
    # they hold e-mails and token digests (operator probe).
    quiet = {"hide_parameters": True}
    if url.startswith("sqlite"):
        sqlite_args = {"timeout": 30, "check_same_thread": False}
        engine = create_engine(url, connect_args=sqlite_args, **quiet)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(
        url, pool_pre_ping=True, pool_size=pool_size, max_overflow=max_overflow, **quiet
    )


def engine_for(settings: Settings) -> Engine:
    return make_engine(
        settings.effective_database_url,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
    )


def _sqlite_pragmas(connection: Any, _record: Any) -> None:
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()
