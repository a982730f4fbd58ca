"""A user with USER_MAX_ACTIVE_TASKS tasks queued or running starts no more until some end,
and holds at most USER_MAX_STREAMS event streams open on one web process.

The app in-process (a real SQLite file, a real Redis; no worker, so what is started stays
queued), with a limit of 3.
"""

from pathlib import Path

import pytest
from redis import Redis
from sqlmodel import Session

from dashboard.events import Audience
from dashboard.models import Task, TaskState
from dashboard.quotas import TooManyActive
from dashboard.redisserver import EmbeddedRedis
from tests.accounts import make_user
from tests.inprocess import Call, InProcessApp

LIMIT = 3
DEMO: Call = ("POST", "/api/tasks/demo", {"seconds": 1, "should_fail": False}, {})
PAGE_PI: Call = ("POST", "/tasks/pi", {"digits": "10", "method": "chudnovsky"}, {})


@pytest.fixture
def app(tmp_path: Path, redis_server: EmbeddedRedis) -> InProcessApp:
    Redis.from_url(redis_server.url).flushdb()
    return InProcessApp(tmp_path, redis_server.url, user_max_active_tasks=LIMIT)


def end(app: InProcessApp, task_id: str, state: TaskState) -> None:
    with Session(app.engine) as session:
        row = session.get(Task, task_id)
        assert row is not None
        row.state = state
        session.add(row)
        session.commit()


def test_starts_past_the_limit_are_refused_saying_why(app: InProcessApp) -> None:
    user = make_user(app.engine)
    *started, refused, from_page = app.send(user, [DEMO] * (LIMIT + 1) + [PAGE_PI])
    assert [answer.status_code for answer in started] == [202] * LIMIT
    assert refused.status_code == 429 and refused.headers["retry-after"] == "30"
    assert refused.json()["detail"].startswith(f"you have {LIMIT} tasks queued or running")
    # The page's form comes back with the reason, which htmx swaps in.
    assert from_page.status_code == 429 and 'id="pi-form"' in from_page.text
    assert f"Not started: you have {LIMIT} tasks queued or running" in from_page.text
    assert len(app.rows()) == LIMIT  # nothing was recorded for the refused starts


def test_a_task_that_ends_makes_room_and_others_are_not_held_back(app: InProcessApp) -> None:
    ann, bob = make_user(app.engine), make_user(app.engine)
    answers = app.send(ann, [DEMO] * LIMIT)
    assert app.send(bob, [DEMO])[0].status_code == 202  # Ann's limit is hers alone
    end(app, answers[0].json()["id"], TaskState.FAILURE)
    (again, past) = app.send(ann, [DEMO, DEMO])
    assert again.status_code == 202 and past.status_code == 429


def test_a_retry_counts_as_a_start(app: InProcessApp) -> None:
    user = make_user(app.engine)
    answers = app.send(user, [DEMO] * LIMIT)
    failed = answers[0].json()["id"]
    end(app, failed, TaskState.FAILURE)
    app.send(user, [DEMO])  # back at the limit
    (retry,) = app.send(user, [("POST", f"/api/tasks/{failed}/retry", {}, {})])
    assert retry.status_code == 429 and "the most allowed" in retry.json()["detail"]


def test_a_user_may_hold_only_so_many_event_streams(
    tmp_path: Path, redis_server: EmbeddedRedis
) -> None:
    app = InProcessApp(tmp_path, redis_server.url, user_max_streams=2)
    ann, bob = make_user(app.engine), make_user(app.engine)
    hub = app.app.state.services.hub
    held = [hub.subscribe(Audience(user_id=ann.id)) for _ in range(2)]
    (refused,) = app.send(ann, [("GET", "/api/events", {}, {})])
    assert refused.status_code == 429 and refused.headers["retry-after"] == "30"
    assert refused.json()["detail"].startswith("you have 2 event streams open here")
    held[0].hang_up()
    assert hub.streams_of(ann.id) == 1 and hub.streams_of(bob.id) == 0


@pytest.mark.parametrize(
    ("limit", "said"), [(1, "you have 1 task queued"), (2, "you have 2 tasks")]
)
def test_the_refusal_counts_in_words_that_agree(limit: int, said: str) -> None:
    assert str(TooManyActive(limit)).startswith(said)
