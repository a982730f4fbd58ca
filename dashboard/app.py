"""The web application: `create_app()` is the factory uvicorn serves."""

import asyncio
import contextlib
import gc
import logging
from collections.abc import AsyncIterator
from pathlib import Path

from celery import Celery
from fastapi import FastAPI
from redis import Redis
from redis.asyncio import Redis as AsyncRedis
from starlette.types import ASGIApp

from dashboard import reaper
from dashboard.bodylimit import BodySizeLimit
from dashboard.db import engine_for
from dashboard.errors import install_error_handlers
from dashboard.eventresponse import SendWatch, goodbye_on_shutdown
from dashboard.fleetwatcher import FleetWatcher
from dashboard.handover import StreamHandover
from dashboard.headrequests import HeadAsGet
from dashboard.hub import EventHub
from dashboard.rendering import make_templates
from dashboard.routes import (
    account,
    auth,
    controls,
    docs,
    health,
    host_api,
    metrics,
    pages,
    password,
    processes,
    streams,
    submit,
    tasks_api,
    workers_api,
)
from dashboard.sampler import HostSampler
from dashboard.securityheaders import SecurityHeaders
from dashboard.services import Services
from dashboard.settings import Settings, get_settings
from dashboard.sitefiles import SiteFiles
from dashboard.streaming import HTML, JSON, TOAST, format_json, html_formatter, toast_formatter
from dashboard.worker import app as celery_app

STATIC_DIR = Path(__file__).resolve().parent.parent / "static"
log = logging.getLogger(__name__)


GC_THRESHOLDS = (10_000, 10, 10)
# Streams that have been sent nothing for this long get a comment line, for proxies' sake.
KEEP_ALIVE_SECONDS = 15
# How often streams are checked for a session that has expired since they opened.
LOGIN_EXPIRY_CHECK_SECONDS = 30
# A stream whose client takes nothing for this long is dropped, not waited for.
SEND_TIMEOUT_SECONDS = 10


def build_services(settings: Settings) -> Services:
    configure_now(celery_app)
    templates = make_templates()
    async_redis = AsyncRedis.from_url(settings.effective_redis_url, health_check_interval=30)
    formatters = {
        HTML: html_formatter(templates),
        JSON: format_json,
        TOAST: toast_formatter(templates),
    }
    hub = EventHub(async_redis, formatters)
    redis = Redis.from_url(settings.effective_redis_url, health_check_interval=30)
    return Services(
        settings=settings,
        engine=engine_for(settings),
        redis=redis,
        async_redis=async_redis,
        celery=celery_app,
        templates=templates,
        hub=hub,
        sampler=HostSampler(hub.publish),
        fleet=FleetWatcher(redis, hub.publish),
        send_watch=SendWatch(timeout=SEND_TIMEOUT_SECONDS),
    )


@contextlib.asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    services: Services = app.state.services
    background = [
        asyncio.create_task(services.hub.run(), name="event-log-reader"),
        asyncio.create_task(services.hub.keep_alive(KEEP_ALIVE_SECONDS), name="stream-keep-alive"),
        asyncio.create_task(
            services.hub.end_expired_logins(LOGIN_EXPIRY_CHECK_SECONDS), name="stream-expiry"
        ),
        asyncio.create_task(goodbye_on_shutdown(services.hub), name="stream-goodbye"),
        asyncio.create_task(services.send_watch.run(), name="stream-send-watch"),
        asyncio.create_task(services.sampler.run(), name="host-sampler"),
        asyncio.create_task(services.fleet.run(), name="fleet-watcher"),
        asyncio.create_task(
            reaper.run(
                services.redis,
                services.engine,
                lost_after=services.settings.task_lost_after_seconds,
                interval=services.settings.lost_sweep_seconds,
            ),
            name="lost-task-reaper",
        ),
    ]
    _freeze_what_lives_forever()
    try:
        yield
    finally:
        for task in background:
            task.cancel()
        await asyncio.gather(*background, return_exceptions=True)
        await services.async_redis.aclose()
        services.redis.close()
        services.engine.dispose()


def configure_now(app: Celery) -> None:
    """Celery reads its configuration on first use, and that first read is not thread-safe:
    requests served in threads (the streams' snapshots) that raced it each got a backend
    built from the half-read configuration (DisabledBackend), and their streams failed. Read
    here, in the thread that builds the app, before any request."""
    app.conf.result_backend  # noqa: B018 (reading one setting loads them all)


def _freeze_what_lives_forever() -> None:
    """Everything built by now (modules, the app, its routes, the clients) lives as long as
    the process. Frozen, it is no longer walked by each full garbage collection: with
    140,000 such objects a full collection held the event loop, and every open stream with
    it, for about 70 ms.

    Each open stream adds about 80 long-lived objects of its own (dashboard.handover), so
    with 5,000 streams a full collection still takes about 300 ms. Collections are made
    rarer too: a young generation of 10,000 objects instead of 700 (Python 3.13 went to
    2,000), which costs a few megabytes of garbage that waits longer to be freed."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


class DashboardApp(FastAPI):
    """FastAPI, with event streams handed out of its layers once they have started
    (dashboard.handover), and HEAD answered wherever GET is (dashboard.headrequests)."""

    def build_middleware_stack(self) -> ASGIApp:
        return HeadAsGet(StreamHandover(super().build_middleware_stack()))


API_DESCRIPTION = (
    "[← back to the dashboard](/) · [your account and tokens](/account)\n\n"
    "Click **Authorize** and paste a personal token from your account page; every call then "
    "acts as you. Streams (`/api/events`) are Server-Sent Events."
)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    app = DashboardApp(
        title="dashboard",
        summary="Live operations page for background work: tasks, host gauges and progress.",
        # Shown at the top of /docs, which has no way back to the page of its own (QA).
        description=API_DESCRIPTION,
        lifespan=lifespan,
        # Served by dashboard.routes.docs instead, behind the login and without a CDN.
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    app.state.services = build_services(settings)
    install_error_handlers(app)
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
    app.add_middleware(SecurityHeaders)
    routers = (
        auth,
        account,
        pages,
        submit,
        controls,
        password,
        tasks_api,
        host_api,
        workers_api,
        processes,
        streams,
        docs,
        health,
        metrics,
    )
    for module in routers:
        app.include_router(module.router)
    app.include_router(account.public)
    app.mount("/static", SiteFiles(directory=STATIC_DIR), name="static")
    return app
