"""`GET /metrics`: an admin's Prometheus scrape sees real tasks move the figures.

Redis is shared by the whole test session, so figures are compared before and after, and
other tests' tasks may add to them: the checks are "at least this much more".
"""

import httpx
import pytest
from sqlalchemy import Engine

from tests.accounts import Account, make_user
from tests.metrics import scrape, value
from tests.processes import wait_until
from tests.sse import Message, open_stream, task_states

pytestmark = pytest.mark.integration


@pytest.fixture
def admin(engine: Engine) -> Account:
    return make_user(engine, admin=True, prefix="admin")


def ended(messages: list[Message], *task_ids: str) -> bool:
    return all({"SUCCESS", "FAILURE"} & set(task_states(messages, task_id)) for task_id in task_ids)


def test_a_real_task_moves_the_figures_an_admin_scrapes(
    web: str, api: httpx.Client, admin: Account
) -> None:
    before = scrape(web, admin)
    with open_stream(api, "/api/events") as stream:
        succeeding = api.post("/api/tasks/demo", json={"seconds": 0.5, "should_fail": False})
        failing = api.post("/api/tasks/demo", json={"seconds": 0, "should_fail": True})
        ids = (succeeding.json()["id"], failing.json()["id"])
        stream.read_until(lambda got: ended(got, *ids), timeout=60, events=("task",))
        during = scrape(web, admin)  # while this stream is still open

    def more(name: str, **labels: str) -> float:
        return value(during, name, **labels) - value(before, name, **labels)

    assert value(during, "dashboard_task_metrics_up") == 1
    assert more("dashboard_tasks_submitted_total", kind="demo") >= 2
    assert more("dashboard_tasks_finished_total", state="SUCCESS") >= 1
    assert more("dashboard_tasks_finished_total", state="FAILURE") >= 1
    assert more("dashboard_task_runtime_seconds_count", kind="demo") >= 2
    assert more("dashboard_task_runtime_seconds_sum", kind="demo") >= 0.5  # it slept that long
    # The succeeding task ran longer than 0.5 s: in a bucket above that bound.
    bucket = "dashboard_task_runtime_seconds_bucket"
    assert more(bucket, kind="demo", le="+Inf") > more(bucket, kind="demo", le="0.5")
    # This web process delivered the tasks' events (queued, started, ended...) to the stream.
    assert more("dashboard_event_lag_seconds_count") >= 4
    assert value(during, "dashboard_sse_connections") >= 1
    assert ("dashboard_queue_length", (("queue", "celery"),)) in during
    assert value(during, "process_resident_memory_bytes") > 0


def test_the_sse_gauge_follows_connections(web: str, api: httpx.Client, admin: Account) -> None:
    def connections() -> float:
        return value(scrape(web, admin), "dashboard_sse_connections")

    wait_until(lambda: connections() == 0, "earlier tests' streams to close", 30)
    with open_stream(api, "/api/events"), open_stream(api, "/events"):
        assert connections() == 2
    wait_until(lambda: connections() == 0, "the closed streams to be dropped", 30)


def test_only_an_admin_may_scrape(web: str, user: Account, admin: Account) -> None:
    with httpx.Client(base_url=web, timeout=10) as client:
        assert client.get("/metrics", headers=admin.bearer).status_code == 200
        assert client.get("/metrics", cookies=admin.cookies).status_code == 200
        assert client.get("/metrics", headers=user.bearer).status_code == 403
        anonymous = client.get("/metrics")
        assert anonymous.status_code == 401
        assert anonymous.headers["www-authenticate"] == "Bearer"
