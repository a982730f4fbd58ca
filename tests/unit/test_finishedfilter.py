"""The Finished list's filters: what the form's values mean, and how the page, its fragment
and the JSON API answer them (the app in-process on a real SQLite file, without its
background loops). Bad values are a 422 naming the field, never a 500."""

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlmodel import Session

from dashboard import crud, migrate
from dashboard.app import create_app
from dashboard.finishedfilter import FinishedFilter
from dashboard.models import TaskKind, TaskState
from dashboard.settings import Settings
from tests import aio
from tests.accounts import Account, make_user
from tests.processes import free_port


def test_a_filter_says_what_to_list_and_how_to_link_to_it() -> None:
    filters = FinishedFilter(state=TaskState.LOST, kind=TaskKind.PI, typed="  disk full ")
    assert filters.active and filters.search == "disk full" and not filters.too_short
    assert filters.states == (TaskState.LOST,) and filters.kinds == (TaskKind.PI,)
    assert filters.url("/", scope="all") == "/?scope=all&state=LOST&kind=pi&q=++disk+full+"
    assert FinishedFilter().url("/", scope=None) == "/" and not FinishedFilter().active


def test_a_term_shorter_than_three_characters_is_not_searched_for() -> None:
    filters = FinishedFilter(typed=" ab ")
    assert filters.too_short and filters.search == "" and not filters.active
    assert not FinishedFilter(typed="   ").too_short


@pytest.fixture
def app_and_user(tmp_path: Path) -> Iterator[tuple[httpx.AsyncClient, Account]]:
    database_url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    migrate.upgrade(database_url)
    # No Redis listens there: these answers need none.
    redis_url = f"redis://127.0.0.1:{free_port()}/0"
    settings = Settings(state_dir=tmp_path, redis_url=redis_url, database_url=database_url)
    app = create_app(settings)
    engine = app.state.services.engine
    user = make_user(engine)
    with Session(engine) as session:
        for number, (kind, state, error) in enumerate(TASKS):
            task_id = f"task-{number}"
            crud.create_task(session, task_id=task_id, kind=kind, params={}, owner_id=user.id)
            crud.record_final(
                session, task_id=task_id, kind=kind, params={}, state=state, error=error
            )
    transport = httpx.ASGITransport(app=app)
    client = httpx.AsyncClient(transport=transport, base_url="http://test", cookies=user.cookies)
    yield client, user
    engine.dispose()


@pytest.fixture
def pages_of_two(
    app_and_user: tuple[httpx.AsyncClient, Account], monkeypatch: pytest.MonkeyPatch
) -> httpx.AsyncClient:
    """The app's client, its Finished list in pages of two tasks."""
    client, _ = app_and_user
    settings = client._transport.app.state.services.settings  # type: ignore[attr-defined]
    monkeypatch.setattr(settings, "finished_page_size", 2)
    return client


TASKS = [
    ("demo", TaskState.FAILURE, "failed as asked"),
    ("pi", TaskState.SUCCESS, None),
    ("demo", TaskState.FAILURE, "Disk full"),
    ("csv", TaskState.REVOKED, "cancelled"),
    ("demo", TaskState.FAILURE, "disk full again"),
]


def get(client: httpx.AsyncClient, url: str, **headers: str) -> httpx.Response:
    async def ask() -> httpx.Response:
        return await client.get(url, headers=headers)

    return aio.run(ask())


@pytest.mark.parametrize(
    ("url", "field"),
    [
        ("/fragments/finished?state=RUNNING", "state"),
        ("/fragments/finished?state=QUEUED", "state"),
        ("/fragments/finished?kind=sleep", "kind"),
        ("/fragments/finished?q=" + "x" * 201, "q"),
        ("/fragments/finished?q=a%00b", "q"),
        ("/?state=success", "state"),
        ("/api/tasks?state=FINISHED", "state"),
        ("/api/tasks?kind=PI", "kind"),
        ("/api/tasks?q=ab", "q"),
        ("/api/tasks?q=++ab++", "q"),
        ("/api/tasks?q=abc%00", "q"),
    ],
)
def test_bad_filter_values_are_a_422_naming_the_field(
    app_and_user: tuple[httpx.AsyncClient, Account], url: str, field: str
) -> None:
    client, _ = app_and_user
    response = get(client, url)
    assert response.status_code == 422
    assert [error["loc"][:2] for error in response.json()["detail"]] == [["query", field]]


def test_a_short_search_is_one_422_shape_whether_spaces_made_it_short(
    app_and_user: tuple[httpx.AsyncClient, Account],
) -> None:
    client, _ = app_and_user
    [short] = get(client, "/api/tasks?q=ab").json()["detail"]
    [spaced] = get(client, "/api/tasks?q=++ab++").json()["detail"]
    assert short.keys() == spaced.keys() and spaced["input"] == "  ab  "
    assert short["type"] == spaced["type"] == "string_too_short"
    assert short["ctx"] == spaced["ctx"] == {"min_length": 3}


def test_the_fragment_answers_the_form_with_the_list_and_the_address(
    app_and_user: tuple[httpx.AsyncClient, Account],
) -> None:
    client, _ = app_and_user
    url = "/fragments/finished?state=FAILURE&kind=&q=DISK"
    response = get(client, url, **{"HX-Request": "true"})
    assert response.status_code == 200
    assert response.text.lstrip().startswith("<div") and "data-filtered" in response.text
    assert task_ids(response.text) == ["task-4", "task-2"]
    assert response.headers["HX-Replace-Url"] == "/?state=FAILURE&q=DISK"


def test_pages_of_a_filtered_list_keep_the_filters(
    pages_of_two: httpx.AsyncClient,
) -> None:
    client = pages_of_two
    first = get(client, "/fragments/finished?kind=demo")
    assert task_ids(first.text) == ["task-4", "task-2"]
    more = first.text.split('hx-get="', 1)[1].split('"', 1)[0].replace("&amp;", "&")
    assert "kind=demo" in more and "cursor=" in more
    second = get(client, more)
    assert task_ids(second.text) == ["task-0"] and "Show older" not in second.text


def test_the_page_without_javascript_shows_the_filtered_list(
    app_and_user: tuple[httpx.AsyncClient, Account],
) -> None:
    client, _ = app_and_user
    page = get(client, "/?state=&kind=csv&q=")
    assert page.status_code == 200
    assert task_ids(page.text) == ["task-3"]
    assert '<option value="csv" selected>' in page.text and "data-filtered" in page.text


def test_the_api_filters_and_searches_and_documents_it(
    app_and_user: tuple[httpx.AsyncClient, Account],
) -> None:
    client, user = app_and_user
    found = get(client, "/api/tasks?kind=demo&kind=csv&q=cancel", **user.bearer).json()
    assert [item["id"] for item in found["items"]] == ["task-3"]
    failures = get(client, "/api/tasks?state=FAILURE&q=task-2", **user.bearer).json()
    assert [item["id"] for item in failures["items"]] == ["task-2"]
    parameters = get(client, "/openapi.json").json()["paths"]["/api/tasks"]["get"]["parameters"]
    documented = {parameter["name"]: parameter for parameter in parameters}
    assert {"state", "kind", "q", "cursor", "limit"} <= set(documented)
    assert "task id" in documented["q"]["description"]


def task_ids(html: str) -> list[str]:
    """The ids of the task rows in a list, in order (a row's element id is task-<id>)."""
    return [row.split('"', 1)[0] for row in html.split('<tr id="task-')[1:]]


def show_older_link(html: str) -> str | None:
    """Where the "Show older" link goes without script (its href)."""
    if 'id="finished-more"' not in html:
        return None
    anchor = html.split('id="finished-more"', 1)[1].split(">", 1)[0]
    return anchor.split('href="', 1)[1].split('"', 1)[0].replace("&amp;", "&")


def test_show_older_works_without_javascript_as_a_link_to_the_older_page(
    pages_of_two: httpx.AsyncClient,
) -> None:
    client = pages_of_two
    first = get(client, "/?kind=demo")
    assert (
        task_ids(first.text) == ["task-4", "task-2"]
        and 'sse-swap="finished-list"' not in first.text
    )
    older = show_older_link(first.text)
    assert older is not None and older.startswith("/?cursor=") and "kind=demo" in older
    second = get(client, older.split("#", 1)[0])
    assert second.status_code == 200 and task_ids(second.text) == ["task-0"]
    assert "data-filtered" in second.text and "Back to the newest" in second.text
    assert show_older_link(second.text) is None
    unfiltered = get(client, "/")
    assert 'sse-swap="finished-list"' in unfiltered.text, "the first page stays live"
    older_unfiltered = show_older_link(unfiltered.text)
    assert older_unfiltered is not None
    snapshot = get(client, older_unfiltered.split("#", 1)[0])
    assert 'sse-swap="finished-list"' not in snapshot.text and "data-filtered" in snapshot.text
