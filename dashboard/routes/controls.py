"""Cancel and Retry as plain form posts, for a browser without script: each goes on to a task's
page (Retry to the new task's), and a refusal is a page saying why. With script, the buttons
post to the JSON API instead (htmx) and the page follows over its event stream."""

from fastapi import APIRouter, HTTPException
from fastapi.responses import RedirectResponse

from dashboard import cancellation
from dashboard.deps import LOGGED_IN, CurrentUser, ServicesDep, SessionDep
from dashboard.routes.tasks_api import readable_task

router = APIRouter(include_in_schema=False, dependencies=LOGGED_IN)


@router.post("/tasks/{task_id}/cancel")
def cancel_from_page(
    task_id: str, services: ServicesDep, session: SessionDep, viewer: CurrentUser
) -> RedirectResponse:
    row = readable_task(session, viewer, task_id)
    try:
        cancellation.cancel(services, row, viewer)
    except cancellation.NotCancellable as error:
        raise HTTPException(409, detail=str(error)) from error
    return RedirectResponse(f"/tasks/{row.id}", status_code=303)


@router.post("/tasks/{task_id}/retry")
def retry_from_page(
    task_id: str, services: ServicesDep, session: SessionDep, viewer: CurrentUser
) -> RedirectResponse:
    row = readable_task(session, viewer, task_id)
    try:
        created = cancellation.retry(services, row)
    except cancellation.NotRetryable as error:
        raise HTTPException(409, detail=str(error)) from error
    return RedirectResponse(f"/tasks/{created.id}", status_code=303)
