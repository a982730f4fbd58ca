"""The event streams: snapshot first, exact resume by Last-Event-ID, nothing left on close."""

from collections.abc import Callable

import httpx
import pytest
from redis import Redis
from sqlalchemy import Engine
from sqlmodel import Session

from dashboard.accounts import users
from dashboard.events import STREAM_KEY
from tests.accounts import PASSWORD, make_user, new_login, page_client
from tests.metrics import scrape, value
from tests.processes import wait_until
from tests.sse import open_stream, task_states

pytestmark = pytest.mark.integration


def run_demo_to_the_end(api: httpx.Client) -> str:
    task_id = api.post("/api/tasks/demo", json={"seconds": 0, "should_fail": False}).json()["id"]
    wait_until(
        lambda: api.get(f"/api/tasks/{task_id}").json()["state"] == "SUCCESS",
        f"task {task_id} to succeed",
        60,
    )
    return task_id


def last_task_event_id(api: httpx.Client) -> str:
    """Connects, runs a task, and returns the id of the last event the connection saw."""
    with open_stream(api, "/api/events") as stream:
        response = api.post("/api/tasks/demo", json={"seconds": 0, "should_fail": False})
        task_id = response.json()["id"]
        messages = stream.read_until(
            lambda got: "SUCCESS" in task_states(got, task_id), timeout=60, events=("task",)
        )
    last = messages[-1].id
    assert last is not None
    return last


def log_ids_after(redis: Redis, entry_id: str) -> list[str]:
    return [key.decode() for key, _ in redis.xrange(STREAM_KEY, min=f"({entry_id}")]


@pytest.mark.parametrize("how", ["header", "query"])
def test_reconnect_gets_exactly_the_missed_events(
    api: httpx.Client, redis_client: Redis, how: str
) -> None:
    last_seen = last_task_event_id(api)
    missed_tasks = [run_demo_to_the_end(api) for _ in range(2)]
    missed = log_ids_after(redis_client, last_seen)
    assert len(missed) >= 6  # queued, started, success of each task at least
    if how == "header":
        stream_args = ("/api/events", {"Last-Event-ID": last_seen})
    else:
        stream_args = (f"/api/events?last_event_id={last_seen}", {})
    with open_stream(api, *stream_args) as stream:
        got = stream.read_until(lambda m: len(m) >= len(missed), timeout=30, events=("task",))
        # Then a few host events go by with no further task event: nothing more was owed.
        host_events = stream.read_until(lambda m: len(m) >= 3, timeout=30, events=("host",))
    assert [message.id for message in got] == missed
    assert all(task_id in {m.json()["id"] for m in got} for task_id in missed_tasks)
    assert len(host_events) == 3


def test_a_client_that_drops_before_any_task_event_misses_nothing(api: httpx.Client) -> None:
    run_demo_to_the_end(api)  # the log is not empty, whichever tests ran before
    with open_stream(api, "/api/events") as stream:
        (ready,) = stream.read_until(lambda m: True, timeout=30, events=("ready",))
    assert ready.id, "the end of the opening state names where to resume"
    ended_meanwhile = run_demo_to_the_end(api)
    with open_stream(api, "/api/events", {"Last-Event-ID": ready.id}) as stream:
        got = stream.read_until(
            lambda m: "SUCCESS" in task_states(m, ended_meanwhile),
            timeout=30,
            events=("task", "ready"),
        )
    assert "ready" not in {message.event for message in got}  # a replay, not a new snapshot


def test_a_new_connection_starts_with_a_snapshot(api: httpx.Client) -> None:
    run_demo_to_the_end(api)
    with open_stream(api, "/events") as stream:
        opening = stream.read_until(
            lambda m: len(m) >= 3, timeout=30, events=("active-list", "finished-list", "host")
        )
    names = [message.event for message in opening]
    assert names[:2] == ["active-list", "finished-list"] and "host" in names
    assert 'id="finished-rows"' in opening[1].data and "SUCCESS" in opening[1].data


def test_the_page_stream_resumes_from_the_page_position(api: httpx.Client) -> None:
    run_demo_to_the_end(api)  # the log is not empty, whichever tests ran before
    page = api.get("/").text
    position = page.split("last_event_id=", 1)[1].split('"', 1)[0]
    task_id = run_demo_to_the_end(api)
    with open_stream(api, f"/events?last_event_id={position}") as stream:
        rows = stream.read_until(
            lambda m: any(f"task-{task_id}" in x.data and "SUCCESS" in x.data for x in m),
            timeout=30,
            events=("task",),
        )
    assert all("<template>" in message.data for message in rows)


def test_an_unknown_position_gets_a_snapshot_instead(api: httpx.Client) -> None:
    with open_stream(api, "/events", {"Last-Event-ID": "not-an-id"}) as stream:
        first = stream.read_until(lambda m: True, timeout=30, events=("active-list", "task"))
    assert first[0].event == "active-list"


@pytest.mark.parametrize(
    "garble",
    [lambda ms: f"{ms}-", lambda ms: f"{ms[:1]}_{ms[1:]}-0", lambda ms: f"{ms}-{2**64}"],
    ids=["no sequence", "underscore", "past 64 bits"],
)
def test_a_position_inside_the_log_that_redis_would_refuse_gets_a_snapshot(
    api: httpx.Client, garble: Callable[[str], str]
) -> None:
    """Such ids (which int() reads) once passed the check and broke the stream mid-answer."""
    milliseconds = last_task_event_id(api).split("-")[0]
    with open_stream(api, "/api/events", {"Last-Event-ID": garble(milliseconds)}) as stream:
        (ready,) = stream.read_until(lambda m: True, timeout=30, events=("ready",))
    assert ready.id


def test_closed_connections_leave_nothing_behind(
    api: httpx.Client, web: str, engine: Engine
) -> None:
    admin = make_user(engine, admin=True, prefix="admin")

    def open_connections() -> int:
        return int(value(scrape(web, admin), "dashboard_sse_connections"))

    before = open_connections()
    clients = [httpx.Client(base_url=web, cookies=api.cookies) for _ in range(5)]
    streams = [client.stream("GET", "/api/events", timeout=30) for client in clients]
    for stream in streams:
        stream.__enter__()
    wait_until(lambda: open_connections() >= before + 5, "five open streams", 30)
    for stream, client in zip(streams, clients, strict=True):
        stream.__exit__(None, None, None)
        client.close()
    wait_until(lambda: open_connections() == before, "streams to be released", 30)


def test_a_stream_ends_when_its_login_ends(web: str, engine: Engine) -> None:
    """A stream is let in once, when it opens: logging out or revoking its token ends it, while
    the same user's other logins stream on."""
    user = make_user(engine)
    with (
        httpx.Client(base_url=web, headers=user.bearer, timeout=10) as by_token,
        page_client(web, user) as by_cookie,
        page_client(web, new_login(engine, user)) as other_browser,
    ):
        token_id = by_token.get("/api/tokens").json()[0]["id"]
        with open_stream(by_token, "/api/events") as stream:
            stream.read_until(lambda got: len(got) >= 1, timeout=30, events=("ready",))
            assert by_cookie.delete(f"/api/tokens/{token_id}").status_code == 204
            assert stream.read_to_end(30, events=("login-ended",))[-1].event == "login-ended"
        with (
            open_stream(by_cookie, "/events") as page,
            open_stream(other_browser, "/events") as elsewhere,
        ):
            page.read_until(lambda got: len(got) >= 1, timeout=30, events=("active-list",))
            assert by_cookie.post("/logout").status_code == 303
            assert page.read_to_end(30, events=("login-ended",))[-1].event == "login-ended"
            # The other browser's session goes on: host gauges keep coming.
            assert len(elsewhere.read_until(lambda got: len(got) >= 2, 30, events=("host",))) == 2
        assert by_cookie.get("/api/me").status_code == 401


def test_a_password_change_ends_every_other_login_and_its_streams(web: str, engine: Engine) -> None:
    user = make_user(engine)
    other = new_login(engine, user)
    change = {"current_password": PASSWORD, "new_password": "a brand new passphrase"}
    with (
        page_client(web, user) as mine,
        page_client(web, other) as other_browser,
        httpx.Client(base_url=web, headers=user.bearer, timeout=10) as by_token,
    ):
        # A token acts as its user but cannot change the password; a wrong one changes nothing.
        assert by_token.post("/account/password", data=change).status_code == 403
        wrong = mine.post("/account/password", data={**change, "current_password": "nope nope"})
        assert wrong.status_code == 422 and "Wrong password." in wrong.text
        short = mine.post("/account/password", data={**change, "new_password": "short"})
        assert short.status_code == 422 and "at least 8 characters" in short.text
        both = {"current_password": "nope nope", "new_password": "short"}
        twice_wrong = mine.post("/account/password", data=both)  # both said, not one by one
        assert twice_wrong.status_code == 422 and "Wrong password." in twice_wrong.text
        assert "at least 8 characters" in twice_wrong.text
        with open_stream(other_browser, "/events") as elsewhere:
            elsewhere.read_until(lambda got: len(got) >= 1, timeout=30, events=("active-list",))
            changed = mine.post("/account/password", data=change, headers={"HX-Request": "true"})
            assert changed.status_code == 200, changed.text
            assert "Password changed. 1 other login ended" in changed.text
            assert elsewhere.read_to_end(30, events=("login-ended",))[-1].event == "login-ended"
        assert other_browser.get("/api/me").status_code == 401
        assert mine.get("/api/me").status_code == 200  # the login that changed it goes on
        assert by_token.get("/api/me").status_code == 200  # tokens are kept, as the page says
    with Session(engine) as session:
        assert users.authenticate(session, email=user.email, password=PASSWORD) is None
        assert users.authenticate(session, email=user.email, password=change["new_password"])
    # Without script, a change goes on to the account page, which says so (no resending).
    again = {"current_password": change["new_password"], "new_password": PASSWORD}
    with page_client(web, user) as plain:
        moved = plain.post("/account/password", data=again)
        assert moved.status_code == 303
        assert moved.headers["location"] == "/account?password_changed=0"
        assert "Password changed." in plain.get(moved.headers["location"]).text
