"""Cancel and Retry as plain form posts, for a browser without script: each goes on to a task's
page (Retry to the new task's), and a refusal is a page saying why. With script, the buttons
post to the JSON API instead (htmx) and the page follows over its event stream. Both do what
the API's routes do, refusals (404, 403, 409) included: these call them."""

from fastapi import APIRouter, Response
from fastapi.responses import RedirectResponse

from dashboard.deps import LOGGED_IN, CurrentUser, ServicesDep, SessionDep
from dashboard.routes.tasks_api import cancel_task, retry_task

router = APIRouter(include_in_schema=False, dependencies=LOGGED_IN)


@router.post("/tasks/{task_id}/cancel")
def cancel_from_page(
    task_id: str, services: ServicesDep, session: SessionDep, viewer: CurrentUser
) -> RedirectResponse:
    cancelled = cancel_task(task_id, services, session, viewer)
    return RedirectResponse(f"/tasks/{cancelled.id}", status_code=303)


@router.post("/tasks/{task_id}/retry")
def retry_from_page(
    task_id: str, services: ServicesDep, session: SessionDep, viewer: CurrentUser
) -> RedirectResponse:
    created = retry_task(task_id, services, session, viewer, Response())
    return RedirectResponse(f"/tasks/{created.id}", status_code=303)
