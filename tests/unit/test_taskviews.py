"""Views of rows read in a request, made without a second database connection."""

from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine
from sqlmodel import Session, SQLModel, select

from dashboard.accounts import users
from dashboard.models import Task, TaskState, utcnow
from dashboard.taskviews import views_of


@pytest.fixture
def one_connection(tmp_path: Path) -> Iterator[Engine]:
    """A pool of one: a second connection taken while the first is held times out at once."""
    engine = create_engine(
        f"sqlite:///{tmp_path / 'one.db'}", pool_size=1, max_overflow=0, pool_timeout=0.5
    )
    SQLModel.metadata.create_all(engine)
    yield engine
    engine.dispose()


def test_views_of_a_requests_rows_use_the_requests_own_connection(
    one_connection: Engine,
) -> None:
    """A probe's 20 clients stalled the web for 30 s and got 500s: each request held one
    connection and waited for a second, for the owners' e-mails, until the pool ran dry."""
    with Session(one_connection) as setup:
        owner = users.register(setup, email="ann@example.com", password="a long password")
        setup.add(Task(id="t-1", owner_id=owner.id, kind="demo", params={"seconds": 0},
                       state=TaskState.SUCCESS, queued_at=utcnow()))  # fmt: skip
        setup.commit()
    services: Any = SimpleNamespace(engine=one_connection)  # no active rows: no Redis asked
    with Session(one_connection) as session:
        rows = list(session.exec(select(Task)))  # the request's connection, held from here
        (view,) = views_of(services, session, rows)
    assert view.id == "t-1" and view.owner == "ann@example.com"
