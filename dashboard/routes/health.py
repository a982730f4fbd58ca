"""Liveness of what the web process needs: 200 when all is up, 503 naming what is down.

A files disk below its reserve is "degraded", still 200: the site works, only new pi and CSV
files are refused, and a load balancer must not take every replica out for it.
"""

from typing import Literal

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from kombu import Connection
from pydantic import BaseModel, Field
from sqlmodel import Session

from dashboard import apidocs, diskroom, migrate
from dashboard.deps import ServicesDep
from dashboard.services import Services

router = APIRouter(tags=["health"])


def _check_database(services: Services) -> str:
    """Up, and at this code's schema: a replica started before the migrations ran answers
    every request with an error, and must not look ready to a load balancer."""
    try:
        with Session(services.engine) as session:
            problem = migrate.schema_problem(session.connection())
    except Exception as error:
        return f"down: {type(error).__name__}"
    return problem or "ok"


def _check_redis(services: Services) -> str:
    try:
        services.redis.ping()
    except Exception as error:
        return f"down: {type(error).__name__}"
    return "ok"


# A monitor asks every few seconds and waits ~3 s: a broker that does not answer at once is down.
BROKER_CONNECT_SECONDS = 2


def _check_broker(services: Services) -> str | None:
    """Only a broker of its own (RabbitMQ, say): one on the Redis is checked as Redis. Starts
    need it, so a replica without it must leave the load balancer (operator probe: 200 while
    every start was 503)."""
    settings = services.settings
    if settings.broker_url == settings.effective_redis_url:
        return None
    try:
        with Connection(settings.broker_url, connect_timeout=BROKER_CONNECT_SECONDS) as broker:
            broker.connect()
    except Exception as error:
        return f"down: {type(error).__name__}"
    return "ok"


def _check_files_disk(services: Services) -> str:
    settings = services.settings
    try:
        return diskroom.room_in(settings.files_dir, settings.files_kept_free_bytes).describe()
    except OSError as error:
        return f"unreadable: {type(error).__name__}"


class Checks(BaseModel):
    database: str = Field(description="`ok`, `down: ...`, or `not migrated: ...`")
    redis: str = Field(description="`ok` or `down: ...`")
    files_disk: str = Field(description="`ok`, `low: ...` (degraded), or `unreadable: ...`")
    broker: str | None = Field(
        None, description="only with a broker of its own (RabbitMQ): `ok` or `down: ...`"
    )


class Health(BaseModel):
    status: Literal["ok", "degraded", "unavailable"]
    checks: Checks


DOWN: apidocs.Answers = {
    503: apidocs.answer(
        "The database, Redis or the broker is down, or the database is not migrated",
        model=Health,
    )
}


@router.get("/healthz", summary="Health check", response_model=Health, responses=DOWN)
def healthz(services: ServicesDep) -> JSONResponse:
    needed = {"database": _check_database(services), "redis": _check_redis(services)}
    broker = _check_broker(services)
    if broker is not None:
        needed["broker"] = broker
    files_disk = _check_files_disk(services)
    healthy = all(value == "ok" for value in needed.values())
    status = "unavailable" if not healthy else "ok" if files_disk == "ok" else "degraded"
    # Anyone may ask, so it says only what is up: how many streams are open (how busy the
    # site is) is for admins, as dashboard_sse_connections on /metrics.
    body = Health(status=status, checks=Checks(**needed, files_disk=files_disk))
    return JSONResponse(body.model_dump(exclude_none=True), status_code=200 if healthy else 503)
