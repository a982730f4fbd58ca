"""The processes `dashboard run` supervises: their state, their output, start/stop/restart.

A web process started some other way (compose, systemd) finds no supervisor and says so; its
processes are managed by whatever started them.
"""

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Form, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, PlainTextResponse, Response

from dashboard import apidocs, processes
from dashboard.control import DEFAULT_TAIL_LINES, ControlUnavailable
from dashboard.deps import ADMIN_ONLY, ServicesDep
from dashboard.processes import NO_SUPERVISOR, Action, ProcessList
from dashboard.routes.pages import page_or_fragment
from dashboard.services import Services

# Process control and output are an operator's business: admins only.
router = APIRouter(tags=["processes"], dependencies=ADMIN_ONLY, responses=apidocs.ADMIN_ONLY)
ONE_PROCESS: apidocs.Answers = {
    404: apidocs.answer("`dashboard run` supervises no process of this name"),
    409: apidocs.answer(
        "No supervisor (this web was not started by `dashboard run`), or the process cannot "
        "do this now"
    ),
}
LOG_ANSWERS: apidocs.Answers = {
    **ONE_PROCESS,
    200: {"description": "Its lines, oldest first", "content": apidocs.text("text/plain")},
}
# A web started by something else than `dashboard run` (compose, systemd) has no supervisor to
# ask: 409, a request that does not fit how this web runs, not a failure of the server (5xx).
View = Literal["compact", "detailed"]
LogLines = Annotated[int, Query(ge=1, le=1000)]


def _act(services: Services, name: str, action: Action) -> None:
    try:
        processes.act(services.settings.state_dir, name, action)
    except ControlUnavailable as error:
        raise HTTPException(409, detail=NO_SUPERVISOR) from error
    except processes.Refused as refusal:
        raise HTTPException(404 if refusal.unknown else 409, detail=str(refusal)) from refusal


@router.get("/api/processes", summary="List supervised processes", response_model=ProcessList)
def list_processes(services: ServicesDep) -> ProcessList:
    """The processes `dashboard run` supervises (`supervised: false` when there is none)."""
    return processes.process_list(services.settings.state_dir)


@router.post(
    "/api/processes/{name}/{action}",
    summary="Start, stop or restart a process",
    status_code=202,
    responses=ONE_PROCESS,
)
def control_process(name: str, action: Action, services: ServicesDep) -> dict[str, bool]:
    """Asks the supervisor to start, stop or restart a process; it sets about it at once."""
    _act(services, name, action)
    return {"accepted": True}


# Not response_class=PlainTextResponse: FastAPI would say the refusals are text too.
@router.get(
    "/api/processes/{name}/log",
    summary="A process's recent log",
    response_class=Response,
    responses=LOG_ANSWERS,
)
def process_log(
    name: str, services: ServicesDep, lines: LogLines = DEFAULT_TAIL_LINES
) -> PlainTextResponse:
    """The last lines a process wrote."""
    try:
        tail = processes.tail(services.settings.state_dir, name, lines)
    except ControlUnavailable as error:
        raise HTTPException(409, detail=NO_SUPERVISOR) from error
    except processes.Refused as refusal:
        raise HTTPException(404 if refusal.unknown else 409, detail=str(refusal)) from refusal
    return PlainTextResponse("\n".join(tail))


def _listing(services: Services, view: View) -> dict[str, Any]:
    return {"listing": processes.process_list(services.settings.state_dir), "view": view}


def _section(request: Request, services: Services, view: View) -> HTMLResponse:
    context = _listing(services, view)
    return services.templates.TemplateResponse(request, "partials/processes.html", context)


@router.get("/processes", response_class=HTMLResponse, include_in_schema=False)
def processes_page(request: Request, services: ServicesDep) -> HTMLResponse:
    context = _listing(services, "detailed")
    return page_or_fragment(request, services, "processes.html", "partials/processes.html", context)


@router.get("/fragments/processes", response_class=HTMLResponse, include_in_schema=False)
def processes_fragment(
    request: Request, services: ServicesDep, view: View = "compact"
) -> HTMLResponse:
    return _section(request, services, view)


@router.get("/fragments/processes/{name}/log", response_class=HTMLResponse, include_in_schema=False)
def log_fragment(request: Request, name: str, services: ServicesDep) -> HTMLResponse:
    try:
        lines = processes.tail(services.settings.state_dir, name, DEFAULT_TAIL_LINES)
    except (ControlUnavailable, processes.Refused) as problem:
        lines = [f"({problem})"]
    context = {"lines": lines}
    return services.templates.TemplateResponse(request, "partials/process_log.html", context)


@router.post("/processes/{name}/{action}", response_class=HTMLResponse, include_in_schema=False)
def control_from_page(
    request: Request,
    name: str,
    action: Action,
    services: ServicesDep,
    view: Annotated[View, Form()] = "compact",
) -> HTMLResponse:
    _act(services, name, action)
    return _section(request, services, view)
