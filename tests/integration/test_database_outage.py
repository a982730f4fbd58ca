"""The database goes away while a task runs; the worker records its end once it is back.

Only on PostgreSQL (TEST_DATABASE=postgresql), where "away" can be made real: the database
refuses new connections and its open ones are cut, then it is let back in.
"""

import os
import time
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlmodel import Session

from dashboard import crud
from dashboard.models import Task, utcnow
from dashboard.reconciliation import LOST_REASON
from tests.integration.conftest import Worker
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


REFUSE_END = """
CREATE OR REPLACE FUNCTION refuse_end_of_{suffix}() RETURNS trigger AS $$
BEGIN
  IF NEW.id = '{task_id}' AND NEW.state::text IN ('SUCCESS', 'FAILURE') THEN
    RAISE EXCEPTION 'could not extend file: No space left on device' USING ERRCODE = 'disk_full';
  END IF;
  RETURN NEW;
END $$ LANGUAGE plpgsql;
CREATE TRIGGER refuse_end_of_{suffix} BEFORE UPDATE ON task
  FOR EACH ROW EXECUTE FUNCTION refuse_end_of_{suffix}();
"""
LET_END = """
DROP TRIGGER IF EXISTS refuse_end_of_{suffix} ON task;
DROP FUNCTION IF EXISTS refuse_end_of_{suffix}();
"""


def test_an_end_the_database_refuses_past_the_retries_is_recorded_later(
    api: httpx.Client,
    admin: Engine,
    worker: Worker,
    stack_env: dict[str, str],
    engine: Engine,
    tmp_path: Path,
) -> None:
    """The database refuses one task's end (its disk full, as PostgreSQL says it) for longer
    than the worker retries: the row stayed STARTED for ever (data-care probe). A message now
    carries the end, and it is recorded once the database takes it, with the moment it
    happened. Meanwhile the row is closed as LOST, as a restart does to an active task no
    queued message names: the end, when it comes, replaces that guess."""
    worker.stop()
    quick = Worker({**stack_env, "DB_RETRY_SECONDS": "1"}, tmp_path, worker.redis)
    suffix = ""
    try:
        quick.start_and_wait()
        task_id = api.post("/api/tasks/demo", json={"seconds": 3, "should_fail": False}).json()[
            "id"
        ]
        suffix = task_id.replace("-", "_")
        with engine.begin() as connection:
            connection.exec_driver_sql(REFUSE_END.format(suffix=suffix, task_id=task_id))
        wait_until(lambda: f"the end of {task_id} is not recorded" in quick.log_tail(300),
                   "the worker to give up writing the end", 60)  # fmt: skip
        assert api.get(f"/api/tasks/{task_id}").json()["state"] in {"STARTED", "PROGRESS"}
        with Session(engine) as session:
            closed = crud.close_if_active(
                session, task_id=task_id, queued_before=utcnow(), error=LOST_REASON
            )
        assert closed is not None and api.get(f"/api/tasks/{task_id}").json()["state"] == "LOST"
        with engine.begin() as connection:
            connection.exec_driver_sql(LET_END.format(suffix=suffix))
        wait_until(lambda: api.get(f"/api/tasks/{task_id}").json()["state"] == "SUCCESS",
                   "the message to record the end", 120)  # fmt: skip
    finally:
        if suffix:
            with engine.begin() as connection:
                connection.exec_driver_sql(LET_END.format(suffix=suffix))
        quick.stop()
        worker.start_and_wait()
    ended = api.get(f"/api/tasks/{task_id}").json()
    assert ended["result"] is not None and ended["error"] is None  # the run's, not the guess
    assert ended["runtime_seconds"] < 20  # when it ended, not when it was written (30 s on)
