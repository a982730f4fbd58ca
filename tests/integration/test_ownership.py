"""Who may call what: every endpoint, for the owner, another user and someone not logged in.

The table below must name every route the app has (a test checks that), so a new endpoint
cannot arrive without its rule being stated and tested here.
"""

import html
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest
from sqlalchemy import Engine

from dashboard.app import create_app
from tests.accounts import Account, make_user, new_login, page_client
from tests.processes import wait_until
from tests.sse import Message, open_stream

pytestmark = pytest.mark.integration


@dataclass(frozen=True)
class Rule:
    method: str
    path: str
    owner: int
    other: int
    anonymous: int


# {id} is the owner's finished pi task. Status codes as the caller sees them (no redirects
# followed): pages send a stranger to /login (303), the API and streams answer 401.
RULES = [
    Rule("GET", "/", 200, 200, 303),
    Rule("GET", "/fragments/finished", 200, 200, 401),
    Rule("GET", "/fragments/active", 200, 200, 401),
    Rule("GET", "/tasks/{id}", 200, 403, 303),
    Rule("GET", "/api/tasks", 200, 200, 401),
    Rule("GET", "/api/tasks/{id}", 200, 403, 401),
    Rule("GET", "/api/tasks/{id}/file", 200, 403, 401),
    # The owner's task has succeeded: it can be neither cancelled nor retried (409).
    Rule("POST", "/api/tasks/{id}/cancel", 409, 403, 401),
    Rule("POST", "/api/tasks/{id}/retry", 409, 403, 401),
    Rule("GET", "/api/tasks/{id}/digits.txt", 200, 403, 401),
    Rule("POST", "/api/tasks/pi", 202, 202, 401),
    Rule("POST", "/api/tasks/demo", 202, 202, 401),
    Rule("POST", "/api/tasks/csv", 202, 202, 401),
    # The start forms, sent as the page sends them (htmx): 401 with HX-Redirect to log in.
    Rule("POST", "/tasks/pi", 200, 200, 401),
    Rule("POST", "/tasks/demo", 200, 200, 401),
    Rule("POST", "/tasks/csv", 200, 200, 401),
    Rule("GET", "/api/host", 200, 200, 401),
    Rule("GET", "/api/cpu/percent", 200, 200, 401),
    Rule("GET", "/api/cpu/times_percent", 200, 200, 401),
    Rule("GET", "/api/partitions/usage", 200, 200, 401),
    Rule("GET", "/api/workers", 200, 200, 401),
    Rule("GET", "/api/me", 200, 200, 401),
    Rule("GET", "/api/tokens", 200, 200, 401),
    Rule("DELETE", "/api/tokens/999999", 404, 404, 401),
    # Public, so anyone gets as far as the validation of a bad body.
    Rule("POST", "/api/users", 422, 422, 422),
    Rule("POST", "/api/tokens", 422, 422, 422),
    Rule("GET", "/account", 200, 200, 303),
    Rule("POST", "/account/tokens", 200, 200, 303),
    Rule("POST", "/account/tokens/999999/revoke", 404, 404, 303),
    Rule("GET", "/docs", 200, 200, 303),
    Rule("GET", "/openapi.json", 200, 200, 401),
    # Process control is for admins only (see the admin test below).
    Rule("GET", "/processes", 403, 403, 303),
    Rule("GET", "/fragments/processes", 403, 403, 401),
    Rule("GET", "/fragments/processes/worker/log", 403, 403, 401),
    Rule("POST", "/processes/worker/stop", 403, 403, 303),
    Rule("GET", "/api/processes", 403, 403, 401),
    Rule("POST", "/api/processes/worker/stop", 403, 403, 401),
    Rule("GET", "/api/processes/worker/log", 403, 403, 401),
    # Prometheus scrapes with an admin's token (see tests/integration/test_metrics.py).
    Rule("GET", "/metrics", 403, 403, 401),
    # Open to all: logging in, registering (someone logged in already is sent on), health.
    Rule("GET", "/login", 303, 303, 200),
    Rule("GET", "/register", 303, 303, 200),
    Rule("GET", "/healthz", 200, 200, 200),
    Rule("POST", "/logout", 303, 303, 303),
]
HTMX = {"HX-Request": "true"}
STREAMS = ["/events", "/api/events"]  # tested below: they never end by themselves
BODIES = {
    "/api/tasks/pi": {"json": {"digits": 10}},
    "/api/tasks/demo": {"json": {"seconds": 0, "should_fail": False}},
    "/api/tasks/csv": {"json": {"rows": 10}},
    "/tasks/pi": {"data": {"digits": "10"}, "headers": HTMX},
    "/tasks/demo": {"data": {"seconds": "0", "should_fail": "succeed"}, "headers": HTMX},
    "/tasks/csv": {"data": {"rows": "10", "source": "sample"}, "headers": HTMX},
    "/account/tokens": {"data": {"name": "from the rules"}},
    "/api/users": {"json": {"email": "not an address", "password": "long enough"}},
    "/api/tokens": {"json": {"email": "someone@example.com"}},
}


@pytest.fixture(scope="module")
def owners_task(web: str, worker: object, engine: Engine) -> tuple[Account, str]:
    owner = make_user(engine, prefix="owner")
    with page_client(web, owner) as client:
        task_id = client.post("/api/tasks/pi", json={"digits": 50}).json()["id"]
        wait_for_state(client, task_id, "SUCCESS")
    return owner, task_id


def wait_for_state(client: httpx.Client, task_id: str, state: str) -> None:
    wait_until(
        lambda: client.get(f"/api/tasks/{task_id}").json()["state"] == state,
        f"task {task_id} to reach {state}",
        60,
    )


def call(client: httpx.Client, rule: Rule, task_id: str) -> httpx.Response:
    path = rule.path.replace("{id}", task_id)
    return client.request(rule.method, path, follow_redirects=False, **BODIES.get(path, {}))


@pytest.mark.parametrize("rule", RULES, ids=lambda rule: f"{rule.method} {rule.path}")
def test_each_endpoint_answers_owner_other_and_anonymous(
    rule: Rule, owners_task: tuple[Account, str], web: str, engine: Engine
) -> None:
    owner, task_id = owners_task
    owner = new_login(engine, owner)  # its own session: the logout rule ends it
    other = make_user(engine, prefix="other")
    with page_client(web, owner) as as_owner, page_client(web, other) as as_other:
        assert call(as_owner, rule, task_id).status_code == rule.owner
        assert call(as_other, rule, task_id).status_code == rule.other
    with httpx.Client(base_url=web, timeout=10) as anonymous:
        answer = call(anonymous, rule, task_id)
    assert answer.status_code == rule.anonymous
    if rule.anonymous == 303:
        location = answer.headers["location"]
        if rule.method == "POST":  # its address answers only a POST: home after logging in
            assert location == "/login?next=%2F"
        else:
            assert location.startswith("/login?next=")


def test_the_rules_cover_every_route_of_the_app() -> None:
    routes = {
        (method, route.path)  # type: ignore[attr-defined]
        for route in create_app().routes
        for method in getattr(route, "methods", set()) - {"HEAD"}
    }
    named = {(rule.method, _template(rule.path)) for rule in RULES}
    named |= {("GET", path) for path in STREAMS}
    assert routes - named == set(), "routes without an access rule in this test"


def _template(path: str) -> str:
    replacements = {
        "{id}": "{task_id}",
        "/999999/": "/{token_id}/",
        "/tokens/999999": "/tokens/{token_id}",
        "/worker/stop": "/{name}/{action}",
        "/worker/log": "/{name}/log",
    }
    for concrete, template in replacements.items():
        path = path.replace(concrete, template)
    return path


def test_a_protected_task_says_so(
    owners_task: tuple[Account, str], web: str, engine: Engine
) -> None:
    _, task_id = owners_task
    with page_client(web, make_user(engine)) as stranger:
        status = stranger.get(f"/api/tasks/{task_id}")
        assert status.json() == {
            "id": task_id,
            "state": "PROTECTED",
            "detail": "this task belongs to another user",
        }
        page = stranger.get(f"/tasks/{task_id}")
        assert "PROTECTED" in page.text and "belongs to another user" in page.text
        listing = stranger.get("/api/tasks").json()["items"]
        assert task_id not in {item["id"] for item in listing}
        assert task_id not in stranger.get("/").text


def test_an_admin_who_cancels_a_task_is_not_named_to_its_owner(web: str, engine: Engine) -> None:
    """Security probe: the owner read "cancelled by root@example.com"."""
    owner, admin = make_user(engine), make_user(engine, admin=True)
    with page_client(web, owner) as as_owner, page_client(web, admin) as as_admin:
        task_id = as_owner.post("/api/tasks/demo", json={"seconds": 30}).json()["id"]
        assert as_admin.post(f"/api/tasks/{task_id}/cancel").status_code == 200
        seen = as_owner.get(f"/api/tasks/{task_id}").json()
        assert seen["state"] == "REVOKED" and seen["error"] == "cancelled by an admin"
        assert admin.email not in as_owner.get("/").text


def test_an_admin_sees_all_users_tasks_with_their_owners(
    owners_task: tuple[Account, str], web: str, engine: Engine
) -> None:
    owner, task_id = owners_task
    with page_client(web, owner) as as_owner:
        newest = as_owner.post("/api/tasks/demo", json={"seconds": 0, "should_fail": False})
        newest_id = newest.json()["id"]
        wait_for_state(as_owner, newest_id, "SUCCESS")
    with page_client(web, make_user(engine, admin=True)) as admin:
        assert newest_id not in admin.get("/").text  # "my tasks" by default
        everyone = admin.get("/?scope=all").text
        assert newest_id in everyone and owner.email in everyone and "show-owner" in everyone
        listed = admin.get("/api/tasks", params={"scope": "all", "limit": 200}).json()["items"]
        assert {"id": task_id, "owner": owner.email} in [
            {"id": item["id"], "owner": item["owner"]} for item in listed
        ]
        assert admin.get(f"/api/tasks/{task_id}").status_code == 200
        assert admin.get("/api/processes").status_code == 200
    with page_client(web, owner) as not_admin:
        assert not_admin.get("/?scope=all").status_code == 403
        assert not_admin.get("/api/tasks?scope=all").status_code == 403
        assert not_admin.get("/fragments/active?scope=all").status_code == 403


@pytest.mark.parametrize("path", STREAMS)
def test_streams_refuse_strangers(web: str, path: str) -> None:
    with httpx.Client(base_url=web, timeout=10) as anonymous:
        assert anonymous.get(path).status_code == 401


@pytest.mark.parametrize("path", STREAMS)
def test_two_users_streams_each_carry_only_their_own_events(
    path: str, web: str, worker: object, engine: Engine
) -> None:
    alice, bob = make_user(engine, prefix="alice"), make_user(engine, prefix="bob")
    with (
        page_client(web, alice) as as_alice,
        page_client(web, bob) as as_bob,
        _streams(as_alice, as_bob, path) as (alice_stream, bob_stream),
    ):
        mine = as_alice.post("/api/tasks/demo", json={"seconds": 0, "should_fail": False})
        theirs = as_bob.post("/api/tasks/demo", json={"seconds": 0, "should_fail": True})
        alice_id, bob_id = mine.json()["id"], theirs.json()["id"]
        # The page's stream follows my task's final row with a toast about it: wait for that.
        last = "toast" if path == "/events" else "task"
        seen_by_alice = alice_stream.read_until(
            lambda m: _mentions(m, alice_id, "SUCCESS", last), 60, events=("task", "toast")
        )
        seen_by_bob = bob_stream.read_until(
            lambda m: _mentions(m, bob_id, "FAILURE", last), 60, events=("task", "toast")
        )
    assert all(bob_id not in message.data for message in seen_by_alice)
    assert all(alice_id not in message.data for message in seen_by_bob)


def _mentions(messages: list[Message], task_id: str, state: str, event: str) -> bool:
    """An HTML row or toast (class state-success) or a JSON view ("state": "SUCCESS")."""
    marks = (f"state-{state.lower()}", f'"state": "{state}"')
    return any(
        task_id in m.data and any(mark in m.data for mark in marks)
        for m in messages
        if m.event == event
    )


class _streams:
    def __init__(self, first: httpx.Client, second: httpx.Client, path: str) -> None:
        self._contexts = [open_stream(first, path), open_stream(second, path)]

    def __enter__(self) -> Iterator:  # type: ignore[type-arg]
        return tuple(context.__enter__() for context in self._contexts)  # type: ignore[return-value]

    def __exit__(self, *exc: object) -> None:
        for context in reversed(self._contexts):
            context.__exit__(*exc)  # type: ignore[arg-type]


def test_a_person_who_is_refused_gets_a_page_saying_why(web: str, engine: Engine) -> None:
    browser = {"Accept": "text/html,application/xhtml+xml"}
    account = make_user(engine)
    with page_client(web, account) as person:
        refused = person.get("/processes", headers=browser)
        assert refused.status_code == 403
        assert refused.headers["content-type"].startswith("text/html")
        assert "Not allowed" in refused.text and "Only an admin may do this." in refused.text
        # A program asking the same gets JSON.
        assert person.get("/processes").json() == {"detail": "only an admin may do this"}
        missing = person.get("/no/such/page", headers=browser)
        assert missing.status_code == 404 and "Not found" in missing.text
        assert "Nothing is at <code>/no/such/page</code>." in missing.text
        # No route read the session there, yet the top bar still knows who is logged in.
        assert account.email in missing.text and account.csrf in missing.text
    with httpx.Client(base_url=web) as anonymous:
        missing = anonymous.get("/no/such/page", headers=browser)
        assert missing.status_code == 404 and 'action="/logout"' not in missing.text


def test_a_bad_value_in_a_page_address_gets_a_page_naming_the_field(
    web: str, engine: Engine
) -> None:
    browser = {"Accept": "text/html,application/xhtml+xml"}
    with page_client(web, make_user(engine)) as person:
        bookmark = person.get("/?state=PENDING&kind=pie", headers=browser)
        assert bookmark.status_code == 422
        assert bookmark.headers["content-type"].startswith("text/html")
        assert "Not understood" in bookmark.text
        said = html.unescape(bookmark.text)
        assert "<code>state</code>: choose 'SUCCESS', 'FAILURE', 'REVOKED' or 'LOST'" in said
        assert "<code>kind</code>: choose 'pi', 'demo' or 'csv'" in said
        # Programs, and the page's own requests, still get the JSON that names the fields.
        fragment = person.get(
            "/fragments/finished?state=PENDING", headers={**browser, "HX-Request": "true"}
        )
        assert fragment.status_code == 422 and fragment.json()["detail"][0]["loc"] == [
            "query",
            "state",
        ]
        assert person.get("/api/tasks?kind=pie").json()["detail"][0]["loc"][:2] == ["query", "kind"]


def test_a_form_refused_for_its_csrf_token_gets_a_page_saying_what_to_do(
    anonymous: httpx.Client,
) -> None:
    browser = {"Accept": "text/html,application/xhtml+xml"}
    refused = anonymous.post("/login", data={"email": "a@example.com"}, headers=browser)
    assert refused.status_code == 403 and refused.headers["content-type"].startswith("text/html")
    assert "The CSRF token is missing or wrong; reload the page and try again." in refused.text
    assert anonymous.post("/login", data={}).json()["detail"].startswith("the CSRF token")


def test_a_short_id_opens_only_its_owners_task(
    owners_task: tuple[Account, str], web: str, engine: Engine
) -> None:
    owner, task_id = owners_task
    short = task_id[:8]  # as the lists show it
    with page_client(web, new_login(engine, owner)) as as_owner:
        found = as_owner.get(f"/tasks/{short}", follow_redirects=False)
        assert found.status_code == 303 and found.headers["location"] == f"/tasks/{task_id}"
        assert as_owner.get(f"/tasks/{task_id[:7]}-nope").status_code == 404
    with page_client(web, make_user(engine)) as as_other:
        assert as_other.get(f"/tasks/{short}", follow_redirects=False).status_code == 404
