"""The database goes away while a task runs; the worker records its end once it is back.

Only on PostgreSQL (TEST_DATABASE=postgresql), where "away" can be made real: the database
refuses new connections and its open ones are cut, then it is let back in.
"""

import os
import time

import httpx
import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlmodel import Session

from dashboard.models import Task
from tests.processes import wait_until
from tests.services import DEFAULT_POSTGRES_URL

pytestmark = pytest.mark.integration
OUTAGE_SECONDS = 6


@pytest.fixture
def admin(database_url: str) -> Engine:
    if not database_url.startswith("postgresql"):
        pytest.skip("the database outage test runs on PostgreSQL (TEST_DATABASE=postgresql)")
    url = os.environ.get("TEST_POSTGRES_URL", DEFAULT_POSTGRES_URL)
    return create_engine(url, isolation_level="AUTOCOMMIT")


def _set_reachable(admin: Engine, database: str, reachable: bool) -> None:
    with admin.connect() as connection:
        connection.execute(
            text(f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS {str(reachable).lower()}')
        )
        if not reachable:
            connection.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = :name AND pid <> pg_backend_pid()"
                ),
                {"name": database},
            )


def test_a_task_that_ends_during_an_outage_is_recorded_after_it(
    api: httpx.Client, admin: Engine, database_url: str, engine: Engine
) -> None:
    database = make_url(database_url).database
    assert database is not None
    task_id = api.post("/api/tasks/demo", json={"seconds": 2, "should_fail": False}).json()["id"]
    wait_until(lambda: api.get(f"/api/tasks/{task_id}").json()["state"] == "PROGRESS", "run", 30)
    _set_reachable(admin, database, False)
    try:
        time.sleep(OUTAGE_SECONDS)  # the task ends in here, with nowhere to write
    finally:
        _set_reachable(admin, database, True)
        admin.dispose()

    def recorded() -> bool:
        with Session(engine) as session:
            row = session.get(Task, task_id)
        return row is not None and row.state == "SUCCESS"

    wait_until(recorded, "the final state to be recorded", 60)
