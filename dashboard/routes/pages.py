"""The page and its fragments: full page on a plain request, one region on an htmx one."""

import re
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlmodel import Session

from dashboard import crud
from dashboard.accounts.viewer import Viewer
from dashboard.deps import (
    LOGGED_IN,
    AudienceDep,
    CurrentUser,
    FinishedFilterDep,
    ServicesDep,
    SessionDep,
)
from dashboard.events import Audience
from dashboard.finishedfilter import FinishedFilter
from dashboard.forms import empty_csv_form, empty_demo_form, empty_pi_form
from dashboard.models import Task
from dashboard.processes import process_list
from dashboard.services import Services
from dashboard.taskviews import view_of, views_of

router = APIRouter(include_in_schema=False, dependencies=LOGGED_IN)
# The start of a task id (a UUID), as the lists show it: at least 6 of its characters.
SHORT_ID = re.compile(r"[0-9a-f][0-9a-f-]{5,35}")


def owner_filter(audience: Audience) -> int | None:
    """The owner whose tasks to list; None lists everyone's (an admin's "all users")."""
    return None if audience.everyone else audience.user_id


def may_see(viewer: Viewer, row: Task) -> bool:
    return viewer.is_admin or row.owner_id == viewer.id


def finished_context(
    services: Services,
    session: Session,
    audience: Audience,
    cursor: str | None,
    filters: FinishedFilter,
) -> dict[str, Any]:
    try:
        rows, next_cursor = crud.page_tasks(
            session,
            states=filters.states,
            kinds=filters.kinds,
            search=filters.search,
            owner_id=owner_filter(audience),
            cursor=cursor,
            limit=services.settings.finished_page_size,
        )
    except ValueError as error:
        raise HTTPException(422, detail=f"cursor: {error}") from error
    return {
        "finished": views_of(services, session, rows),
        "next_cursor": next_cursor,
        # A page further down the list (the page's "Show older" link, without script).
        "older_page": bool(cursor),
        "scope": scope_of(audience),
        "filters": filters,
    }


def active_context(services: Services, session: Session, audience: Audience) -> dict[str, Any]:
    active = crud.list_active(session, owner_id=owner_filter(audience))
    return {"active": views_of(services, session, active), "scope": scope_of(audience)}


def scope_of(audience: Audience) -> str:
    return "all" if audience.everyone else "mine"


def host_context(services: Services) -> dict[str, Any]:
    sampler = services.sampler
    history = [point.model_dump() for point in sampler.history]
    return {"host": sampler.latest, "history": history}


def page_or_fragment(
    request: Request, services: Services, page: str, fragment: str, context: dict[str, Any]
) -> HTMLResponse:
    """htmx asks for the region alone (HX-Request); a browser gets the whole page."""
    wants_fragment = request.headers.get("HX-Request") == "true"
    response = services.templates.TemplateResponse(
        request, fragment if wants_fragment else page, context
    )
    response.headers["Vary"] = "HX-Request"
    return response


@router.get("/", response_class=HTMLResponse)
def index(
    request: Request,
    services: ServicesDep,
    session: SessionDep,
    viewer: CurrentUser,
    audience: AudienceDep,
    filters: FinishedFilterDep,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> HTMLResponse:
    """The page; with a cursor (the "Show older" link, without script), the Finished list
    shows that older page."""
    # The stream position is read before the lists, so the events after it cover any change
    # made while the page renders: the stream resumes from here instead of a second snapshot.
    position = services.hub.position
    scope = scope_of(audience)
    context = {
        **host_context(services),
        "fleet": services.fleet.latest,
        **active_context(services, session, audience),
        **finished_context(services, session, audience, cursor, filters),
        "processes": process_list(services.settings.state_dir) if viewer.is_admin else None,
        "pi_form": empty_pi_form(),
        "demo_form": empty_demo_form(),
        "csv_form": empty_csv_form(),
        "stream_url": f"/events?scope={scope}&last_event_id={position}",
    }
    return services.templates.TemplateResponse(request, "index.html", context)


@router.get("/fragments/finished", response_class=HTMLResponse)
def finished_fragment(
    request: Request,
    services: ServicesDep,
    session: SessionDep,
    audience: AudienceDep,
    filters: FinishedFilterDep,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> HTMLResponse:
    """With a cursor, a further page of finished tasks, appended below the ones shown;
    without, the list again as the filters have it (the filter form asks for this)."""
    context = finished_context(services, session, audience, cursor, filters)
    templates = services.templates
    if cursor:
        return templates.TemplateResponse(request, "partials/finished_page.html", context)
    response = templates.TemplateResponse(request, "partials/finished_list.html", context)
    # The address bar follows the filters, so a reload or a shared link shows the same list.
    scope = "all" if audience.everyone else None
    response.headers["HX-Replace-Url"] = filters.url("/", scope=scope)
    return response


@router.get("/fragments/active", response_class=HTMLResponse)
def active_fragment(
    request: Request, services: ServicesDep, session: SessionDep, audience: AudienceDep
) -> HTMLResponse:
    """The Active list as the server reads it. A list cut short by a long queue asks for it
    once it has room, to take the queued tasks it could not show (static/dashboard.js)."""
    context = active_context(services, session, audience)
    return services.templates.TemplateResponse(request, "partials/active_tasks.html", context)


@router.get("/tasks/{task_id}", response_class=HTMLResponse)
def task_page(
    request: Request, task_id: str, services: ServicesDep, session: SessionDep, viewer: CurrentUser
) -> Response:
    row = crud.get_task(session, task_id=task_id)
    if row is None and SHORT_ID.fullmatch(task_id):
        owner = None if viewer.is_admin else viewer.id
        found = crud.ids_starting_with(session, prefix=task_id, owner_id=owner)
        if len(found) == 1:  # an id as the lists show it, short: the task's own address
            return RedirectResponse(f"/tasks/{found[0]}", status_code=303)
    if row is None or not may_see(viewer, row):
        template, status = (
            ("task_missing.html", 404) if row is None else ("task_protected.html", 403)
        )
        return services.templates.TemplateResponse(
            request, template, {"task_id": task_id}, status_code=status
        )
    context = {"task": view_of(services, session, row)}
    return page_or_fragment(request, services, "task.html", "partials/task_detail.html", context)
