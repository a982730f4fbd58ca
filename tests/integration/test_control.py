"""Cancel and retry, through the API, against the real worker."""

import time

import httpx
import pytest
from sqlalchemy import Engine
from sqlmodel import Session

from dashboard.models import Task
from tests.accounts import make_user, page_client
from tests.processes import wait_until
from tests.sse import open_stream, task_states

pytestmark = pytest.mark.integration


def state_of(api: httpx.Client, task_id: str) -> str:
    state: str = api.get(f"/api/tasks/{task_id}").json()["state"]
    return state


def row(engine: Engine, task_id: str) -> Task:
    with Session(engine) as session:
        found = session.get(Task, task_id)
    assert found is not None
    return found


def start_demo(api: httpx.Client, seconds: float, fail: bool = False) -> str:
    answer = api.post("/api/tasks/demo", json={"seconds": seconds, "should_fail": fail})
    task_id: str = answer.json()["id"]
    return task_id


def test_cancelling_a_running_task_ends_it_revoked_at_once_and_for_good(
    api: httpx.Client, engine: Engine
) -> None:
    task_id = start_demo(api, 20)
    wait_until(lambda: state_of(api, task_id) == "PROGRESS", "the task to run", 30)
    with open_stream(api, "/api/events") as stream:
        cancelled = api.post(f"/api/tasks/{task_id}/cancel")
        assert cancelled.status_code == 200 and cancelled.json()["state"] == "REVOKED"
        assert row(engine, task_id).state == "REVOKED"  # in SQL at once
        seen = stream.read_until(
            lambda m: "REVOKED" in task_states(m, task_id), timeout=10, events=("task",)
        )
    assert task_states(seen, task_id)[-1] == "REVOKED"
    # The worker was told: the pool process running it is terminated, and the task is not run
    # again. A few seconds later it is still REVOKED, run once, with the reason.
    time.sleep(3)
    final = row(engine, task_id)
    assert final.state == "REVOKED" and final.attempts == 1
    assert final.error == "cancelled by its owner"
    assert api.post(f"/api/tasks/{task_id}/cancel").status_code == 409


def test_a_cancelled_queued_task_never_runs(api: httpx.Client, engine: Engine) -> None:
    # Both pool processes busy, so the third task waits in the queue.
    busy = [start_demo(api, 6) for _ in range(2)]
    waiting = start_demo(api, 0)
    wait_until(
        lambda: all(state_of(api, task_id) == "PROGRESS" for task_id in busy),
        "both pool processes to be busy",
        30,
    )
    assert state_of(api, waiting) == "QUEUED"
    assert api.post(f"/api/tasks/{waiting}/cancel").json()["state"] == "REVOKED"
    wait_until(
        lambda: all(state_of(api, task_id) == "SUCCESS" for task_id in busy),
        "the busy tasks to end",
        60,
    )
    time.sleep(2)  # time enough for the worker to take the waiting message
    never_ran = row(engine, waiting)
    assert never_ran.state == "REVOKED" and never_ran.started_at is None
    assert never_ran.attempts == 0


def test_retrying_a_failed_task_starts_a_new_one_linked_to_it(
    api: httpx.Client, engine: Engine
) -> None:
    failed = start_demo(api, 0, fail=True)
    wait_until(lambda: state_of(api, failed) == "FAILURE", "the task to fail", 30)
    answer = api.post(f"/api/tasks/{failed}/retry")
    assert answer.status_code == 202
    again = answer.json()["id"]
    assert again != failed
    wait_until(lambda: state_of(api, again) == "FAILURE", "the retry to end", 30)
    view = api.get(f"/api/tasks/{again}").json()
    assert view["retry_of"] == failed and view["params"] == row(engine, failed).params
    assert f'href="/tasks/{failed}"' in api.get(f"/tasks/{again}").text
    succeeded = start_demo(api, 0)
    wait_until(lambda: state_of(api, succeeded) == "SUCCESS", "the task to succeed", 30)
    assert api.post(f"/api/tasks/{succeeded}/retry").status_code == 409


def test_only_the_owner_may_cancel_or_retry(api: httpx.Client, web: str, engine: Engine) -> None:
    running = start_demo(api, 10)
    failed = start_demo(api, 0, fail=True)
    wait_until(lambda: state_of(api, failed) == "FAILURE", "the task to fail", 30)
    with page_client(web, make_user(engine)) as stranger:
        assert stranger.post(f"/api/tasks/{running}/cancel").status_code == 403
        assert stranger.post(f"/api/tasks/{failed}/retry").status_code == 403
    with httpx.Client(base_url=web) as anonymous:
        assert anonymous.post(f"/api/tasks/{running}/cancel").status_code == 401
    assert state_of(api, running) in {"QUEUED", "STARTED", "PROGRESS"}
    assert api.post(f"/api/tasks/{running}/cancel").status_code == 200


def test_cancel_and_retry_sent_as_plain_forms_say_why_not_or_refuse_strangers(
    api: httpx.Client, web: str, engine: Engine
) -> None:
    """The forms a browser without script posts: the owner's go on to a task's page; one for a
    task that has ended is a page saying so; another user's is refused, and so is a form
    without the session's token."""
    owner, stranger = make_user(engine), make_user(engine)
    page_asks = {"Accept": "text/html"}
    with page_client(web, owner, headers=page_asks) as page:
        running = start_demo(page, 30)
        page.headers.pop("X-CSRF-Token")  # a plain form carries it as a field instead
        token = {"csrf_token": owner.csrf}
        assert page.post(f"/tasks/{running}/cancel").status_code == 403
        with page_client(web, stranger, headers=page_asks) as other:
            theirs = {"csrf_token": stranger.csrf}
            assert other.post(f"/tasks/{running}/cancel", data=theirs).status_code == 403
        done = page.post(f"/tasks/{running}/cancel", data=token)
        assert done.status_code == 303 and done.headers["location"] == f"/tasks/{running}"
        again = page.post(f"/tasks/{running}/cancel", data=token)
        assert again.status_code == 409 and "ended already" in again.text
        retried = page.post(f"/tasks/{running}/retry", data=token)
        new_id = retried.headers["location"].rsplit("/", 1)[-1]
        assert retried.status_code == 303 and row(engine, new_id).retry_of == running
        assert page.post(f"/tasks/{new_id}/retry", data=token).status_code == 409
        # The retry is a 30 s task on the shared worker: left running, it would still be
        # counted there by the tests that follow (test_fleet's idle worker).
        assert page.post(f"/tasks/{new_id}/cancel", data=token).status_code == 303
        assert page.post("/tasks/no-such-task/cancel", data=token).status_code == 404
