"""The JSON API for tasks: start them, read one, list them, download the files they made.

A task belongs to the user who started it. Someone else asking for it gets 403 with the
state PROTECTED (the task exists, and it is not theirs); an unknown id is 404. Admins may
read every task.
"""

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Header, HTTPException, Query, Response
from fastapi.responses import FileResponse, JSONResponse
from pydantic import BaseModel

from dashboard import apidocs, artifacts, cancellation, crud, idempotency
from dashboard.accounts.viewer import Viewer
from dashboard.deps import LOGGED_IN, AudienceDep, CurrentUser, ServicesDep, SessionDep
from dashboard.models import (
    ACTIVE_STATES,
    FILE_KINDS,
    Task,
    TaskCreated,
    TaskKind,
    TaskPage,
    TaskState,
    TaskView,
)
from dashboard.routes.pages import may_see, owner_filter
from dashboard.services import Services
from dashboard.storabletext import NO_NUL
from dashboard.submissions import CsvRequest, DemoRequest, PiRequest
from dashboard.tasksearch import MAX_TERM, MIN_TERM
from dashboard.taskstarts import start_csv, start_demo, start_pi
from dashboard.taskviews import view_of, views_of

router = APIRouter(prefix="/api/tasks", tags=["tasks"], dependencies=LOGGED_IN)
PROTECTED = "PROTECTED"
ANY_FILE = apidocs.downloads("text/csv", "text/plain")
DIGITS = apidocs.downloads("text/plain")

IdempotencyKey = Annotated[
    str | None,
    Header(
        alias=idempotency.HEADER,
        min_length=1,
        max_length=idempotency.MAX_LENGTH,
        pattern=idempotency.PATTERN,
        description="Any text of yours, new for each start you mean once (a UUID, say). "
        "Sent again with the same request within a day, the answer names the task the "
        "first one started (with `Idempotent-Replayed: true`) instead of starting another.",
    ),
]


@router.post(
    "/pi",
    summary="Start a pi task",
    status_code=202,
    response_model=TaskCreated,
    responses=apidocs.START,
)
def create_pi_task(
    request: PiRequest,
    services: ServicesDep,
    viewer: CurrentUser,
    response: Response,
    key: IdempotencyKey = None,
) -> TaskCreated:
    """Computes pi to `digits` decimals (Chudnovsky up to 1,000,000; Leibniz up to 10)."""
    return _create(TaskKind.PI, start_pi, request, services, viewer, response, key)


@router.post(
    "/demo",
    summary="Start a demo task",
    status_code=202,
    response_model=TaskCreated,
    responses=apidocs.START,
)
def create_demo_task(
    request: DemoRequest,
    services: ServicesDep,
    viewer: CurrentUser,
    response: Response,
    key: IdempotencyKey = None,
) -> TaskCreated:
    """Sleeps `seconds`, then fails or succeeds (`should_fail` null: a coin toss)."""
    return _create(TaskKind.DEMO, start_demo, request, services, viewer, response, key)


@router.post(
    "/csv",
    summary="Make a CSV file",
    status_code=202,
    response_model=TaskCreated,
    responses=apidocs.START,
)
def create_csv_task(
    request: CsvRequest,
    services: ServicesDep,
    viewer: CurrentUser,
    response: Response,
    key: IdempotencyKey = None,
) -> TaskCreated:
    """Writes a CSV file: `rows` rows of sample data, or (`source: history`) my task history."""
    return _create(TaskKind.CSV, start_csv, request, services, viewer, response, key)


# start_pi, start_demo or start_csv (dashboard.taskstarts).
Starter = Callable[[Services, Any, Viewer, str | None], TaskView]


def _create(
    kind: TaskKind,
    starter: Starter,
    request: BaseModel,
    services: Services,
    viewer: Viewer,
    response: Response,
    key: str | None,
) -> TaskCreated:
    asked = [kind.value, request.model_dump(mode="json")]

    def start(task_id: str) -> str:
        return starter(services, request, viewer, task_id).id

    return _started_once(services, viewer, key, asked, response, start)


def _started_once(
    services: Services,
    viewer: Viewer,
    key: str | None,
    asked: Any,
    response: Response,
    start: Callable[[str], str],
) -> TaskCreated:
    """The task `start` starts, or the one an earlier request with the same key (and the
    same `asked`) started."""
    try:
        started = idempotency.start_once(services.redis, viewer.id, key, asked, start)
    except idempotency.KeyReused as error:
        detail = [{"loc": ["header", idempotency.HEADER], "msg": str(error), "type": "value_error"}]
        raise HTTPException(422, detail=detail) from error
    except idempotency.KeyInUse as error:
        raise HTTPException(409, detail=str(error), headers={"Retry-After": "1"}) from error
    if started.replayed:
        response.headers["Idempotent-Replayed"] = "true"
    return TaskCreated(id=started.task_id)


@router.get("", summary="List my tasks", response_model=TaskPage, responses=apidocs.SCOPED)
def list_tasks(
    services: ServicesDep,
    session: SessionDep,
    audience: AudienceDep,
    state: Annotated[list[TaskState] | None, Query(description="Only these states")] = None,
    kind: Annotated[list[TaskKind] | None, Query(description="Only these kinds")] = None,
    q: Annotated[
        str | None,
        Query(
            min_length=MIN_TERM,
            max_length=MAX_TERM,
            pattern=NO_NUL,
            description="Search: a task id or its first 8 or more characters; otherwise text "
            'found, in any case, in the parameters as the lists word them ("1,000 digits", '
            '"sleep 5 s · fails") or in the error',
        ),
    ] = None,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> TaskPage:
    """My tasks, newest first: active ones by when they were queued, and lists of final
    states only by when they ended. Pass `next_cursor` back as `cursor`, with the same
    filters, for the next page."""
    try:
        rows, next_cursor = crud.page_tasks(
            session,
            states=state or list(TaskState),
            kinds=kind or (),
            search=_search_term(q),
            owner_id=owner_filter(audience),
            cursor=cursor,
            limit=limit,
        )
    except ValueError as error:
        raise _invalid_cursor(error) from error
    return TaskPage(items=views_of(services, session, rows), next_cursor=next_cursor)


def _search_term(q: str | None) -> str:
    term = (q or "").strip()
    if q is not None and len(term) < MIN_TERM:
        # The shape of Pydantic's own min_length error (for "ab"), which this one extends.
        message = f"String should have at least {MIN_TERM} characters besides spaces"
        error = {"type": "string_too_short", "loc": ["query", "q"], "msg": message, "input": q}
        detail = [error | {"ctx": {"min_length": MIN_TERM}}]
        raise HTTPException(422, detail=detail)
    return term


def _invalid_cursor(error: ValueError) -> HTTPException:
    detail = [{"loc": ["query", "cursor"], "msg": str(error), "type": "value_error"}]
    return HTTPException(422, detail=detail)


@router.get("/{task_id}", summary="Read a task", response_model=TaskView, responses=apidocs.TASK)
def read_task(
    task_id: str, services: ServicesDep, session: SessionDep, viewer: CurrentUser
) -> TaskView | JSONResponse:
    row = crud.get_task(session, task_id=task_id)
    if row is not None and not may_see(viewer, row):
        body = {"id": task_id, "state": PROTECTED, "detail": "this task belongs to another user"}
        return JSONResponse(body, status_code=403)
    return view_of(services, session, _existing(row, task_id))


@router.post(
    "/{task_id}/cancel", summary="Cancel a task", response_model=TaskView, responses=apidocs.CANCEL
)
def cancel_task(
    task_id: str, services: ServicesDep, session: SessionDep, viewer: CurrentUser
) -> TaskView:
    """Cancels a queued or running task (a running one is terminated): it ends REVOKED."""
    row = _readable(session, viewer, task_id)
    try:
        return cancellation.cancel(services, session, row, viewer)
    except cancellation.NotCancellable as error:
        raise HTTPException(409, detail=str(error)) from error


@router.post(
    "/{task_id}/retry",
    summary="Retry a task",
    status_code=202,
    response_model=TaskCreated,
    responses=apidocs.RETRY,
)
def retry_task(
    task_id: str,
    services: ServicesDep,
    session: SessionDep,
    viewer: CurrentUser,
    response: Response,
    key: IdempotencyKey = None,
) -> TaskCreated:
    """Starts a failed, cancelled or lost task again: a new task with the same parameters,
    whose `retry_of` names this one."""
    row = _readable(session, viewer, task_id)

    def start(new_id: str) -> str:
        try:
            return cancellation.retry(services, session, row, new_id).id
        except cancellation.NotRetryable as error:
            raise HTTPException(409, detail=str(error)) from error

    return _started_once(services, viewer, key, ["retry", task_id], response, start)


IfNoneMatch = Annotated[str | None, Header(description="An ETag from an earlier download")]


@router.get(
    "/{task_id}/file",
    summary="Download a task's file",
    response_class=FileResponse,
    responses=ANY_FILE,
)
def download_file(
    task_id: str, session: SessionDep, viewer: CurrentUser, if_none_match: IfNoneMatch = None
) -> Response:
    """The file a finished task made (pi digits as .txt, a CSV), streamed; owner only."""
    return _unless_unchanged(_file_response(_readable(session, viewer, task_id)), if_none_match)


@router.get(
    "/{task_id}/digits.txt",
    summary="Download a pi task's digits",
    response_class=FileResponse,
    responses=DIGITS,
)
def download_digits(
    task_id: str, session: SessionDep, viewer: CurrentUser, if_none_match: IfNoneMatch = None
) -> Response:
    """All digits of a finished pi task, as plain text (the same as `/file` for pi tasks)."""
    row = _readable(session, viewer, task_id)
    if row.kind != TaskKind.PI:
        raise HTTPException(404, detail="this task has made no digits: it is not a pi task")
    return _unless_unchanged(_file_response(row), if_none_match)


def _unless_unchanged(file: FileResponse, if_none_match: str | None) -> Response:
    """304 when the client holds this very file (its ETag): Starlette sends the ETag but
    never answers it, so a script checking for a new copy downloaded it whole (API probe)."""
    etag = file.headers["etag"]
    held = {tag.strip().removeprefix("W/") for tag in (if_none_match or "").split(",")}
    if etag in held or "*" in held:
        return Response(status_code=304, headers={"ETag": etag})
    return file


def _file_response(row: Task) -> FileResponse:
    if row.state in ACTIVE_STATES and row.kind in FILE_KINDS:
        # Not "no file": it is being made. Retry-After: about when a look again is worth it.
        detail = "the file is not ready yet: the task is still running"
        raise HTTPException(409, detail=detail, headers={"Retry-After": "5"})
    path = artifacts.file_of(row.result) if row.state == TaskState.SUCCESS else None
    if path is None:
        raise HTTPException(404, detail="this task has made no file")
    if row.file_expired_at is not None:
        raise HTTPException(410, detail="the file has expired and was deleted")
    try:
        # Read now, so the ETag is in the headers before the answer is sent.
        stat = path.stat()
    except FileNotFoundError as error:
        raise HTTPException(410, detail="the file is gone from the state directory") from error
    media_type = "text/csv" if path.suffix == ".csv" else "text/plain"
    return FileResponse(
        path, media_type=media_type, filename=download_name(row, path.suffix), stat_result=stat
    )


def download_name(row: Task, suffix: str) -> str:
    short = row.id[:8]
    if row.kind == "pi":
        return f"pi-{row.params.get('digits', 'n')}-digits-{short}{suffix}"
    if row.params.get("source") == "history":
        return f"task-history-{short}{suffix}"
    return f"sample-{row.params.get('rows', 'n')}-rows-{short}{suffix}"


def _readable(session: SessionDep, viewer: Viewer, task_id: str) -> Task:
    row = _existing(crud.get_task(session, task_id=task_id), task_id)
    if not may_see(viewer, row):
        raise HTTPException(403, detail="this task belongs to another user")
    return row


def _existing(row: Task | None, task_id: str) -> Task:
    if row is None:
        # No id is longer than MAX_TASK_ID: a longer one is cut, not echoed whole.
        shown = task_id if len(task_id) <= crud.MAX_TASK_ID else task_id[: crud.MAX_TASK_ID] + "…"
        raise HTTPException(404, detail=f"no task has the id {shown!r}")
    return row
