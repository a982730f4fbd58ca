"""A task end to end through the real stack: the API, the stream, the worker, the row."""

import os

import httpx
import pytest
from sqlalchemy import Engine
from sqlmodel import Session, select

from dashboard.models import Task
from tests.accounts import Account, make_user, page_client
from tests.integration.conftest import Worker
from tests.processes import wait_until
from tests.sse import Message, open_stream, task_states

pytestmark = pytest.mark.integration
FINAL = {"SUCCESS", "FAILURE"}


def follow_to_the_end(
    api: httpx.Client, start: dict[str, object], path: str
) -> tuple[str, list[str]]:
    """Starts a task while listening to the stream; returns its id and the states it passed."""
    with open_stream(api, "/api/events") as stream:
        response = api.post(path, json=start)
        assert response.status_code == 202, response.text
        task_id = response.json()["id"]

        def ended(messages: list[Message]) -> bool:
            return bool(set(task_states(messages, task_id)) & FINAL)

        messages = stream.read_until(ended, timeout=90, events=("task",))
    return task_id, task_states(messages, task_id)


def rows_with_id(engine: Engine, task_id: str) -> list[Task]:
    with Session(engine) as session:
        return list(session.exec(select(Task).where(Task.id == task_id)))


def test_pi_task_streams_to_success_and_keeps_one_row(api: httpx.Client, engine: Engine) -> None:
    task_id, states = follow_to_the_end(
        api, {"digits": 20_000, "method": "chudnovsky"}, "/api/tasks/pi"
    )
    assert states[0] in {"QUEUED", "STARTED"} and states[-1] == "SUCCESS"
    assert "PROGRESS" in states
    task = api.get(f"/api/tasks/{task_id}").json()
    assert task["state"] == "SUCCESS" and task["kind"] == "pi"
    assert task["result"]["preview"].startswith("3.14159265358979")
    assert task["queued_at"] <= task["started_at"] <= task["finished_at"]
    assert task["finished_at"].endswith("Z") or task["finished_at"].endswith("+00:00")
    (row,) = rows_with_id(engine, task_id)
    assert row.state == "SUCCESS" and row.result is not None
    digits = api.get(f"/api/tasks/{task_id}/digits.txt")
    assert digits.status_code == 200 and digits.headers["content-type"].startswith("text/plain")
    assert digits.text.strip().startswith(task["result"]["preview"])
    assert len(digits.text.strip()) == 20_002  # "3." and 20,000 decimals


def test_leibniz_task_reports_its_estimate(api: httpx.Client) -> None:
    task_id, states = follow_to_the_end(api, {"digits": 6, "method": "leibniz"}, "/api/tasks/pi")
    assert states[-1] == "SUCCESS"
    assert api.get(f"/api/tasks/{task_id}").json()["result"]["preview"] == "3.141592"


def test_failing_demo_task_ends_failure_with_its_message(api: httpx.Client, engine: Engine) -> None:
    task_id, states = follow_to_the_end(
        api, {"seconds": 0.5, "should_fail": True}, "/api/tasks/demo"
    )
    assert states[-1] == "FAILURE"
    task = api.get(f"/api/tasks/{task_id}").json()
    assert task["state"] == "FAILURE" and "failed as asked" in task["error"]
    assert task["result"] is None
    (row,) = rows_with_id(engine, task_id)
    assert row.error is not None and "failed as asked" in row.error


def test_a_running_task_shows_its_progress(api: httpx.Client) -> None:
    with open_stream(api, "/api/events") as stream:
        response = api.post("/api/tasks/demo", json={"seconds": 3, "should_fail": False})
        task_id = response.json()["id"]

        def halfway(messages: list[Message]) -> bool:
            return "PROGRESS" in task_states(messages, task_id)

        stream.read_until(halfway, timeout=60, events=("task",))
    progress = api.get(f"/api/tasks/{task_id}").json()["progress"]
    assert progress is not None and 0 < progress["percent"] <= 100
    assert progress["intermediate"].endswith("of 3 s")


def test_unknown_ids_are_404(api: httpx.Client) -> None:
    for path in ("/api/tasks/no-such-task", "/api/tasks/no-such-task/digits.txt"):
        response = api.get(path)
        assert response.status_code == 404 and "no task" in response.json()["detail"]
    assert api.get("/tasks/no-such-task").status_code == 404


@pytest.mark.parametrize(
    ("path", "body", "field", "reason"),
    [
        ("/api/tasks/pi", {"digits": 0}, "digits", "greater than or equal to 1"),
        ("/api/tasks/pi", {"digits": 1_000_001}, "digits", "less than or equal to 1000000"),
        ("/api/tasks/pi", {"digits": 11, "method": "leibniz"}, "digits", "capped at 10"),
        ("/api/tasks/pi", {"digits": "many"}, "digits", "valid integer"),
        ("/api/tasks/pi", {"digits": 5, "method": "guess"}, "method", "chudnovsky"),
        ("/api/tasks/demo", {"seconds": -1}, "seconds", "greater than or equal to 0"),
    ],
)
def test_bad_input_is_422_naming_field_and_reason(
    api: httpx.Client, path: str, body: dict[str, object], field: str, reason: str
) -> None:
    response = api.post(path, json=body)
    assert response.status_code == 422
    (error,) = response.json()["detail"]
    assert error["loc"][-1] == field and reason in error["msg"]


def test_listing_filters_by_state_and_pages_by_cursor(api: httpx.Client) -> None:
    for _ in range(3):
        follow_to_the_end(api, {"seconds": 0, "should_fail": False}, "/api/tasks/demo")
    first = api.get("/api/tasks", params={"state": "SUCCESS", "limit": 2}).json()
    assert len(first["items"]) == 2 and first["next_cursor"]
    assert {item["state"] for item in first["items"]} == {"SUCCESS"}
    second = api.get("/api/tasks", params={"state": "SUCCESS", "cursor": first["next_cursor"]})
    ids = [item["id"] for item in first["items"] + second.json()["items"]]
    assert len(ids) == len(set(ids)) >= 3
    finished = [item["finished_at"] for item in first["items"] + second.json()["items"]]
    assert finished == sorted(finished, reverse=True)
    assert api.get("/api/tasks", params={"cursor": "nonsense"}).status_code == 422
    assert api.get("/api/tasks", params={"state": "SLEEPY"}).status_code == 422


def test_host_endpoints_answer_with_figures(api: httpx.Client) -> None:
    host = api.get("/api/host").json()
    assert host["memory"]["total"] > 0 and host["disks"]
    percent = api.get("/api/cpu/percent").json()
    assert 0 <= percent["overall"] <= 100 and percent["per_core"]
    times = api.get("/api/cpu/times_percent").json()
    assert {"user", "system", "idle"} <= set(times[0])
    partitions = api.get("/api/partitions/usage").json()
    assert {"mountpoint", "total", "used", "free", "percent"} <= set(partitions[0])


def test_health_and_docs(api: httpx.Client, broker_url: str | None) -> None:
    health = api.get("/healthz")
    assert health.status_code == 200
    # Only what is up: anyone may ask, so nothing of how busy the site is. A broker of its
    # own (the RabbitMQ pass) is checked too.
    checks = {"database": "ok", "redis": "ok", "files_disk": "ok"}
    if broker_url:
        checks["broker"] = "ok"
    assert health.json() == {"status": "ok", "checks": checks}
    assert api.get("/docs").status_code == 200
    paths = api.get("/openapi.json").json()["paths"]
    assert {"/api/tasks/pi", "/api/tasks/{task_id}", "/api/host"} <= set(paths)


def test_head_is_answered_wherever_get_is(api: httpx.Client, anonymous: httpx.Client) -> None:
    """Same status and headers as GET, no body; an event stream answers at once."""
    for client, path, kind in (
        (anonymous, "/healthz", "application/json"),
        (anonymous, "/login", "text/html"),
        (api, "/", "text/html"),
        (api, "/api/tasks", "application/json"),
        (api, "/events", "text/event-stream"),
        (api, "/api/events", "text/event-stream"),
    ):
        answer = client.head(path, timeout=5)
        assert (answer.status_code, answer.content) == (200, b""), path
        assert answer.headers["content-type"].startswith(kind), path
    assert api.head("/api/tasks/no-such-task").status_code == 404
    assert anonymous.head("/api/tasks").status_code == 401


def test_private_answers_are_not_stored_and_no_page_may_frame_them(api: httpx.Client) -> None:
    for path in ("/", "/api/tasks", "/api/me", "/account", "/events"):
        headers = api.head(path, timeout=5).headers
        assert headers["cache-control"] == "no-store", path
        assert "frame-ancestors 'none'" in headers["content-security-policy"], path
        assert headers["x-content-type-options"] == "nosniff", path
    static = api.get("/static/dashboard.js").headers
    assert "no-store" not in static.get("cache-control", "") and "etag" in static


HTMX = {"HX-Request": "true"}  # as the page's forms send them


def test_page_forms_show_the_reason_beside_the_field(api: httpx.Client) -> None:
    page = api.get("/")
    assert page.status_code == 200 and 'id="pi-form"' in page.text
    response = api.post("/tasks/pi", data={"digits": "12", "method": "leibniz"}, headers=HTMX)
    assert response.status_code == 422
    assert 'id="pi-digits-error"' in response.text and "capped at 10 digits" in response.text
    response = api.post(
        "/tasks/demo", data={"seconds": "soon", "should_fail": "random"}, headers=HTMX
    )
    assert response.status_code == 422 and ">enter a number</span>" in response.text
    emptied = api.post("/tasks/demo", data={"seconds": "", "should_fail": "random"}, headers=HTMX)
    assert emptied.status_code == 422 and ">fill this in</span>" in emptied.text
    started = api.post("/tasks/demo", data={"seconds": "0", "should_fail": "succeed"}, headers=HTMX)
    assert started.status_code == 200 and "Started" in started.text
    # The form comes back as sent, so the same task starts again in one click.
    assert 'value="0"' in started.text and 'value="succeed" checked' in started.text
    started = api.post("/tasks/pi", data={"digits": "4321", "method": "chudnovsky"}, headers=HTMX)
    assert started.status_code == 200 and 'value="4321"' in started.text


def test_the_forms_work_without_script_too(api: httpx.Client, user: Account) -> None:
    """A plain form post (the CSRF token as a field): a good one goes on to the new task's
    page, a bad one comes back as the form on a page of its own, saying why."""
    fields = {"csrf_token": user.csrf}
    api.headers.pop("X-CSRF-Token")
    started = api.post("/tasks/demo", data={**fields, "seconds": "0", "should_fail": "succeed"})
    assert started.status_code == 303 and started.headers["location"].startswith("/tasks/")
    assert "sleep 0 s" in api.get(started.headers["location"]).text
    wrong = api.post("/tasks/pi", data={**fields, "digits": "0", "method": "chudnovsky"})
    assert wrong.status_code == 422 and "<title>Start a task · dashboard</title>" in wrong.text
    assert 'id="pi-form"' in wrong.text and ">enter at least 1</span>" in wrong.text
    assert f'name="csrf_token" value="{user.csrf}"' in wrong.text  # ready to send again


def test_a_web_without_a_supervisor_says_so(web: str, engine: Engine) -> None:
    with page_client(web, make_user(engine, admin=True)) as admin:
        assert admin.get("/api/processes").json() == {"supervised": False, "processes": []}
        assert admin.post("/api/processes/worker/stop").status_code == 409
        assert "Not running under" in admin.get("/processes").text


def test_the_finished_list_pages_with_show_older(api: httpx.Client) -> None:
    for _ in range(6):  # more than one page of five
        follow_to_the_end(api, {"seconds": 0, "should_fail": False}, "/api/tasks/demo")
    page = api.get("/").text
    finished_rows = page.split('id="finished-rows"', 1)[1].split("</tbody>", 1)[0]
    assert finished_rows.count('class="task-row"') == 5
    cursor = page.split("/fragments/finished?scope=mine&amp;cursor=", 1)[1].split('"', 1)[0]
    older = api.get(f"/fragments/finished?cursor={cursor}", headers={"HX-Request": "true"})
    assert older.status_code == 200
    assert 'hx-swap-oob="beforeend:#finished-rows"' in older.text
    # Only this test's user's tasks are listed: six in all, so one on the second page.
    assert older.text.count('class="task-row"') == 1
    first_page_ids = {part.split('"', 1)[0] for part in finished_rows.split('id="task-')[1:]}
    older_ids = {part.split('"', 1)[0] for part in older.text.split('id="task-')[1:]}
    assert first_page_ids.isdisjoint(older_ids)
    assert api.get("/fragments/finished?cursor=bogus").status_code == 422


def test_the_stack_runs_on_the_broker_and_database_asked_for(
    worker: Worker, broker_url: str | None, database_url: str
) -> None:
    """So a production-path run (TEST_BROKER, TEST_DATABASE) cannot pass on the defaults."""
    scheme = "amqp" if broker_url else "redis"
    wait_until(
        lambda: f"Connected to {scheme}://" in worker.log_tail(100_000), "the worker's log", 30
    )
    expected = "postgresql" if os.environ.get("TEST_DATABASE") == "postgresql" else "sqlite"
    assert database_url.startswith(expected)
