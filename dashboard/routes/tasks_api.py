"""The JSON API for tasks: start them, read one, list them, fetch the digits of pi."""

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query
from fastapi.responses import FileResponse

from dashboard import artifacts, crud
from dashboard.deps import OwnerDep, ServicesDep, SessionDep
from dashboard.models import Task, TaskCreated, TaskKind, TaskPage, TaskState, TaskView
from dashboard.submissions import DemoRequest, PiRequest
from dashboard.taskstarts import start_demo, start_pi
from dashboard.taskviews import view_of, views_of

router = APIRouter(prefix="/api/tasks", tags=["tasks"])
NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"description": "No task has this id"}}


@router.post("/pi", status_code=202, response_model=TaskCreated)
def create_pi_task(request: PiRequest, services: ServicesDep, owner: OwnerDep) -> TaskCreated:
    """Computes pi to `digits` decimals (Chudnovsky up to 1,000,000; Leibniz up to 10)."""
    return TaskCreated(id=start_pi(services, request, owner).id)


@router.post("/demo", status_code=202, response_model=TaskCreated)
def create_demo_task(request: DemoRequest, services: ServicesDep, owner: OwnerDep) -> TaskCreated:
    """Sleeps `seconds`, then fails or succeeds (`should_fail` null: a coin toss)."""
    return TaskCreated(id=start_demo(services, request, owner).id)


@router.get("", response_model=TaskPage)
def list_tasks(
    services: ServicesDep,
    session: SessionDep,
    state: Annotated[list[TaskState] | None, Query(description="Only these states")] = None,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> TaskPage:
    """Newest first. Pass `next_cursor` back as `cursor` for the next page."""
    try:
        rows, next_cursor = crud.page_tasks(
            session, states=state or list(TaskState), cursor=cursor, limit=limit
        )
    except ValueError as error:
        raise _invalid_cursor(error) from error
    return TaskPage(items=views_of(services, rows), next_cursor=next_cursor)


def _invalid_cursor(error: ValueError) -> HTTPException:
    detail = [{"loc": ["query", "cursor"], "msg": str(error), "type": "value_error"}]
    return HTTPException(422, detail=detail)


@router.get("/{task_id}", response_model=TaskView, responses=NOT_FOUND)
def read_task(task_id: str, services: ServicesDep, session: SessionDep) -> TaskView:
    return view_of(services, _existing(session, task_id))


@router.get("/{task_id}/digits.txt", response_class=FileResponse, responses=NOT_FOUND)
def download_digits(task_id: str, session: SessionDep) -> FileResponse:
    """All digits of a finished pi task, as plain text."""
    row = _existing(session, task_id)
    if row.kind != TaskKind.PI or row.state != TaskState.SUCCESS:
        raise HTTPException(404, detail="this task has no digits file")
    path = artifacts.digits_path(row.id)
    if not path.exists():
        raise HTTPException(404, detail="the digits file is gone from the state directory")
    return FileResponse(path, media_type="text/plain", filename=f"pi-{row.id}.txt")


def _existing(session: SessionDep, task_id: str) -> Task:
    row = crud.get_task(session, task_id=task_id)
    if row is None:
        raise HTTPException(404, detail=f"no task has the id {task_id!r}")
    return row
