"""Each process's database pool is as large as DB_POOL_SIZE and DB_MAX_OVERFLOW say."""

from sqlalchemy.pool import QueuePool

from dashboard.db import engine_for
from dashboard.settings import Settings


def test_the_pool_takes_its_size_from_the_settings() -> None:
    url = "postgresql+psycopg://nobody@127.0.0.1:1/none"  # never connected to here
    engine = engine_for(Settings(database_url=url, db_pool_size=3, db_max_overflow=2))
    pool = engine.pool
    assert isinstance(pool, QueuePool)
    assert (pool.size(), pool._max_overflow) == (3, 2)
    engine.dispose()
