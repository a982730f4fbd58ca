"""Search and filters of task lists, on a real SQLite file made by the migrations.

Each search goes one of three ways (the newest rows read one by one, the trigram index, or
the list read in order when the index names too many); the paging tests force each way by
shrinking its limits, and every way must give the same pages.
"""

from collections.abc import Sequence
from typing import Any

import pytest
from sqlmodel import Session

from dashboard import crud, tasksearch
from dashboard.models import FINAL_STATES, Task, TaskKind, TaskState, utcnow

ANN, BOB = 1, 2


def add(
    session: Session,
    task_id: str,
    *,
    owner: int = ANN,
    kind: str = "demo",
    params: dict[str, Any] | None = None,
    state: TaskState = TaskState.SUCCESS,
    error: str | None = None,
) -> None:
    params = params if params is not None else {"seconds": 1}
    crud.create_task(session, task_id=task_id, kind=kind, params=params, owner_id=owner)
    crud.record_final(session, task_id=task_id, kind=kind, params=params, state=state, error=error)


def found(
    session: Session,
    term: str,
    *,
    owner: int | None = ANN,
    states: Sequence[TaskState] = FINAL_STATES,
    kinds: Sequence[TaskKind] = (),
) -> list[str]:
    rows, _ = crud.page_tasks(
        session, states=states, kinds=kinds, search=term, owner_id=owner, cursor=None, limit=50
    )
    return [row.id for row in rows]


WAYS = {"newest rows": (250, 5000), "trigram index": (1, 5000), "list in order": (1, 3)}


@pytest.fixture(params=WAYS.values(), ids=WAYS.keys())
def way(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Forces one of the ways a search is answered by shrinking the others' limits."""
    probe_rows, most_hits = request.param
    monkeypatch.setattr(tasksearch, "PROBE_ROWS", probe_rows)
    monkeypatch.setattr(tasksearch, "MOST_HITS", most_hits)


@pytest.fixture
def tasks(session: Session, way: None) -> Session:
    add(session, "0a1b2c3d-1111-4000-8000-000000000001", kind="pi",
        params={"digits": 1000, "method": "chudnovsky"})  # fmt: skip
    add(session, "0a1b2c3d-2222-4000-8000-000000000002", state=TaskState.FAILURE,
        error="DemoFailure: the demo task failed as asked, after 1 s")  # fmt: skip
    add(session, "9f8e7d6c-3333-4000-8000-000000000003", kind="csv",
        params={"source": "sample", "rows": 100_000})  # fmt: skip
    add(session, "9f8e7d6c-4444-4000-8000-000000000004", owner=BOB, kind="pi",
        params={"digits": 5, "method": "leibniz"}, state=TaskState.LOST,
        error="lost in a restart: the task queue no longer holds its message")  # fmt: skip
    add(session, "55555555-5555-4000-8000-000000000005", state=TaskState.REVOKED,
        error="cancelled by 100%_sure@example.com")  # fmt: skip
    return session


def test_an_exact_id_finds_its_task(tasks: Session) -> None:
    task_id = "0a1b2c3d-2222-4000-8000-000000000002"
    assert found(tasks, task_id) == [task_id]


def test_an_id_prefix_of_eight_characters_finds_every_task_it_begins(tasks: Session) -> None:
    assert found(tasks, "0a1b2c3d") == [
        "0a1b2c3d-2222-4000-8000-000000000002",
        "0a1b2c3d-1111-4000-8000-000000000001",
    ]
    assert found(tasks, "0a1b2c3d-1") == ["0a1b2c3d-1111-4000-8000-000000000001"]


def test_an_id_typed_in_capitals_finds_its_task(tasks: Session) -> None:
    assert found(tasks, "9F8E7D6C") == ["9f8e7d6c-3333-4000-8000-000000000003"]
    assert found(tasks, "0A1B2C3D-1111-4000-8000-000000000001") == [
        "0a1b2c3d-1111-4000-8000-000000000001"
    ]


def test_a_shorter_prefix_is_only_text(tasks: Session) -> None:
    assert found(tasks, "0a1b2c3") == []


def test_a_short_id_is_found_when_it_is_the_whole_id(tasks: Session) -> None:
    add(tasks, "job-7")
    add(tasks, "job-77")
    assert found(tasks, "job-7") == ["job-7"]
    assert found(tasks, "job-") == []


def test_text_in_the_parameters_is_found_in_any_case(tasks: Session) -> None:
    assert found(tasks, "CHUDnovsky") == ["0a1b2c3d-1111-4000-8000-000000000001"]
    assert found(tasks, "1,000 Digits") == ["0a1b2c3d-1111-4000-8000-000000000001"]
    assert found(tasks, "100,000 sample") == ["9f8e7d6c-3333-4000-8000-000000000003"]


def test_a_number_is_found_typed_without_its_separators(tasks: Session) -> None:
    assert found(tasks, "100000") == ["9f8e7d6c-3333-4000-8000-000000000003"]


def test_the_parameters_are_found_by_their_shown_words_not_their_json(session: Session) -> None:
    add(session, "demo-a", params={"seconds": 2, "should_fail": True}, state=TaskState.FAILURE,
        error="DemoFailure: the demo task failed as asked, after 2 s")  # fmt: skip
    add(session, "demo-b", params={"seconds": 3, "should_fail": False})
    add(session, "demo-c", params={"seconds": 4, "should_fail": False, "chosen_at_random": True})
    assert found(session, "fails") == ["demo-a"]
    assert found(session, "fail") == ["demo-a"]  # not every demo, through its should_fail key
    assert found(session, "succeeds") == ["demo-c", "demo-b"]
    assert found(session, "sleep 3 s") == ["demo-b"]
    assert found(session, "at random") == ["demo-c"]
    assert found(session, "should_fail") == [] and found(session, "seconds") == []


def test_a_row_added_through_the_orm_gets_its_words_too(session: Session) -> None:
    session.add(Task(id="orm-1", owner_id=ANN, kind="pi", params={"digits": 2500, "method": "x"},
                     state=TaskState.SUCCESS, finished_at=utcnow()))  # fmt: skip
    session.commit()
    assert found(session, "2,500 digits") == ["orm-1"]


def test_text_in_the_error_is_found(tasks: Session) -> None:
    assert found(tasks, "failed as ASKED") == ["0a1b2c3d-2222-4000-8000-000000000002"]


def test_like_wildcards_and_quotes_are_plain_characters(tasks: Session) -> None:
    assert found(tasks, "100%_sure") == ["55555555-5555-4000-8000-000000000005"]
    assert found(tasks, "0%_s") == ["55555555-5555-4000-8000-000000000005"]
    assert found(tasks, "%%%") == []
    add(tasks, "quoted-1", state=TaskState.FAILURE, error='OSError: cannot open "out.csv"')
    assert found(tasks, '"out.csv"') == ["quoted-1"]


def test_a_term_shorter_than_a_trigram_is_matched_row_by_row(tasks: Session) -> None:
    assert found(tasks, "nó") == []
    assert found(tasks, "1,") == ["0a1b2c3d-1111-4000-8000-000000000001"]


def test_search_sees_only_the_owners_tasks(tasks: Session) -> None:
    assert found(tasks, "leibniz") == []
    assert found(tasks, "leibniz", owner=BOB) == ["9f8e7d6c-4444-4000-8000-000000000004"]
    assert found(tasks, "leibniz", owner=None) == ["9f8e7d6c-4444-4000-8000-000000000004"]


def test_another_users_id_is_not_found_even_by_an_admins_prefix_of_it(tasks: Session) -> None:
    """Bob's task shares Ann's prefix: for Ann the prefix names only her own task."""
    assert found(tasks, "9f8e7d6c") == ["9f8e7d6c-3333-4000-8000-000000000003"]
    assert found(tasks, "9f8e7d6c-4444-4000-8000-000000000004") == []
    assert len(found(tasks, "9f8e7d6c", owner=None)) == 2


def test_an_id_like_word_that_names_no_task_is_read_as_text(tasks: Session) -> None:
    assert found(tasks, "chudnovsky") == ["0a1b2c3d-1111-4000-8000-000000000001"]
    assert found(tasks, "DemoFailure") == ["0a1b2c3d-2222-4000-8000-000000000002"]


def test_filters_narrow_by_state_and_kind(tasks: Session) -> None:
    assert found(tasks, "", states=[TaskState.FAILURE]) == ["0a1b2c3d-2222-4000-8000-000000000002"]
    assert found(tasks, "", kinds=[TaskKind.CSV]) == ["9f8e7d6c-3333-4000-8000-000000000003"]
    assert found(tasks, "", kinds=[TaskKind.PI], states=[TaskState.LOST]) == []
    bobs_lost = found(tasks, "", kinds=[TaskKind.PI], states=[TaskState.LOST], owner=BOB)
    assert bobs_lost == ["9f8e7d6c-4444-4000-8000-000000000004"]


def test_filters_and_search_together(tasks: Session) -> None:
    assert found(tasks, "0a1b2c3d", states=[TaskState.SUCCESS]) == [
        "0a1b2c3d-1111-4000-8000-000000000001"
    ]
    assert found(tasks, "0a1b2c3d", kinds=[TaskKind.CSV]) == []
    assert found(tasks, "example.com", owner=None, kinds=[TaskKind.DEMO]) == [
        "55555555-5555-4000-8000-000000000005"
    ]


def test_active_tasks_are_never_in_a_list_of_final_ones(session: Session) -> None:
    crud.create_task(session, task_id="queued-1", kind="demo", params={"x": "needle"}, owner_id=1)
    add(session, "done-1", params={"x": "needle"})
    assert found(session, "needle") == ["done-1"]
    assert found(session, "") == ["done-1"]
    rows, _ = crud.page_tasks(
        session, states=list(TaskState), search="needle", owner_id=ANN, cursor=None, limit=9
    )
    assert {row.id for row in rows} == {"queued-1", "done-1"}


def test_pages_of_a_search_are_the_same_whichever_way_it_is_answered(
    session: Session, way: None
) -> None:
    for number in range(30):
        state = TaskState.FAILURE if number % 3 == 0 else TaskState.SUCCESS
        error = f"Timeout at step {number}" if number % 2 == 0 else None
        add(session, f"task-{number:03d}", state=state, error=error, owner=ANN + number % 2)
    seen, cursor = [], None
    for _ in range(10):
        rows, cursor = crud.page_tasks(
            session, states=[TaskState.FAILURE], search="timeout",
            owner_id=ANN, cursor=cursor, limit=2,
        )  # fmt: skip
        seen += [row.id for row in rows]
        if cursor is None:
            break
    assert seen == [f"task-{number:03d}" for number in range(29, -1, -1) if number % 6 == 0]


def test_a_prefix_that_many_ids_share_finds_them_all(session: Session, way: None) -> None:
    for number in range(6):
        add(session, f"batch-20-{number}")
    assert found(session, "batch-20") == [f"batch-20-{number}" for number in range(5, -1, -1)]
