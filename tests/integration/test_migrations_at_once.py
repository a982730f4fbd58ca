"""Migrations started at the same moment (one per replica) on an empty PostgreSQL database:
each process migrates or finds the schema current, and none fails.

Only on PostgreSQL (TEST_DATABASE=postgresql): SQLite writes one at a time by itself.
"""

import os
import subprocess
import sys

import pytest
from sqlalchemy import create_engine, text

from tests.processes import REPO_ROOT
from tests.services import DEFAULT_POSTGRES_URL, throwaway_database

pytestmark = pytest.mark.integration
PROCESSES = 3


def test_migrations_started_at_once_all_succeed() -> None:
    if os.environ.get("TEST_DATABASE") != "postgresql":
        pytest.skip("migrations racing are tried on PostgreSQL (TEST_DATABASE=postgresql)")
    admin_url = os.environ.get("TEST_POSTGRES_URL", DEFAULT_POSTGRES_URL)
    with throwaway_database(admin_url) as url:
        upgrade = f"from dashboard import migrate; migrate.upgrade({url!r})"
        racing = [
            subprocess.Popen(
                [sys.executable, "-c", upgrade], cwd=REPO_ROOT, stderr=subprocess.PIPE, text=True
            )
            for _ in range(PROCESSES)
        ]
        failures = [process.communicate(timeout=120)[1] for process in racing]
        assert [process.returncode for process in racing] == [0] * PROCESSES, failures
        engine = create_engine(url)
        with engine.connect() as connection:
            versions = connection.execute(text("SELECT version_num FROM alembic_version"))
            assert len(list(versions)) == 1
        engine.dispose()
