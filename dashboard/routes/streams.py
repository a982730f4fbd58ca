"""The SSE streams: HTML fragments for the page, JSON for API clients.

Database and Redis work for the snapshot happens inside the stream, not in request
dependencies, which would be closed before a long-lived stream ends.
"""

import asyncio

from fastapi import APIRouter
from sqlmodel import Session
from sse_starlette import ServerSentEvent

from dashboard import apidocs, quotas
from dashboard.accounts.viewer import Viewer
from dashboard.deps import LOGGED_IN, AudienceDep, CurrentUser, ResumeIdDep, ServicesDep
from dashboard.eventresponse import EventStreamResponse
from dashboard.events import Audience
from dashboard.finishedfilter import FinishedFilter
from dashboard.rendering import render
from dashboard.routes.pages import active_context, finished_context
from dashboard.services import Services
from dashboard.streaming import HTML, JSON, event_stream

router = APIRouter(tags=["events"], dependencies=LOGGED_IN)


def _html_snapshot(services: Services, audience: Audience) -> list[ServerSentEvent]:
    """The lists as they stand, as the page renders them. The Finished list is the unfiltered
    one: a filtered list on the page has no `sse-swap` and is left as it is."""
    with Session(services.engine) as session:
        active = active_context(services, session, audience)
        finished = finished_context(services, session, audience, None, FinishedFilter())
    templates = services.templates
    active_html = render(templates, "partials/active_tasks.html", **active)
    finished_html = render(templates, "partials/finished_list.html", **finished)
    return [
        ServerSentEvent(data=active_html, event="active-list"),
        ServerSentEvent(data=finished_html, event="finished-list"),
    ]


def _json_snapshot(services: Services, audience: Audience) -> list[ServerSentEvent]:
    with Session(services.engine) as session:
        active = active_context(services, session, audience)["active"]
    tasks = [ServerSentEvent(data=view.model_dump_json(), event="task") for view in active]
    # `ready` ends the opening state; its id is where a reconnect resumes from.
    return [*tasks, ServerSentEvent(data="{}", event="ready")]


def _response(
    services: Services, format_name: str, audience: Audience, viewer: Viewer, resume: str | None
) -> EventStreamResponse:
    quotas.check_streams(services.hub, viewer.id, services.settings.user_max_streams)
    snapshot = _html_snapshot if format_name == HTML else _json_snapshot

    async def take_snapshot() -> list[ServerSentEvent]:
        return await asyncio.to_thread(snapshot, services, audience)

    # The stream ends with the login it was opened with (dashboard.hub.LoginEnded).
    subscription = services.hub.subscribe(audience, viewer.login, viewer.login_expires_at)
    stream = event_stream(
        services.hub,
        subscription,
        format_name=format_name,
        resume_from=resume,
        snapshot=take_snapshot,
    )
    return EventStreamResponse(stream, hang_up=subscription.hang_up, watch=services.send_watch)


@router.get("/events", include_in_schema=False)
async def page_events(
    services: ServicesDep, audience: AudienceDep, viewer: CurrentUser, resume: ResumeIdDep
) -> EventStreamResponse:
    return _response(services, HTML, audience, viewer, resume)


# The class says no media type (so the schema gives none but JSON to the refusals; the
# stream's is declared in STREAM) nor a default status that FastAPI could read.
@router.get(
    "/api/events",
    summary="Stream my task and host events",
    status_code=200,
    response_class=EventStreamResponse,
    responses=apidocs.STREAM,
)
async def api_events(
    services: ServicesDep, audience: AudienceDep, viewer: CurrentUser, resume: ResumeIdDep
) -> EventStreamResponse:
    """Server-sent events of my tasks: `task` (a task's view, JSON), `host` (host gauges) and
    `fleet` (every worker, as `GET /api/workers` answers).

    A new connection starts with my active tasks, then `ready`, whose id (when the log has
    entries) is where to resume from; a reconnect naming its last event id (Last-Event-ID
    header or `last_event_id`) gets exactly the events it missed. When the token it was
    opened with is revoked, the stream ends with `login-ended`.
    """
    return _response(services, JSON, audience, viewer, resume)
