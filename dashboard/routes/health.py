"""Liveness of what the web process needs: 200 when all is up, 503 naming what is down.

A files disk below its reserve is "degraded", still 200: the site works, only new pi and CSV
files are refused, and a load balancer must not take every replica out for it.
"""

from typing import Literal

from fastapi import APIRouter
from fastapi.responses import JSONResponse
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
            current = migrate.current_revision(session.connection())
    except Exception as error:
        return f"down: {type(error).__name__}"
    wanted = migrate.head_revision()
    if current != wanted:
        return f"not migrated: at {current or 'no revision'}, this code needs {wanted}"
    return "ok"


def _check_redis(services: Services) -> str:
    try:
        services.redis.ping()
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


class Health(BaseModel):
    status: Literal["ok", "degraded", "unavailable"]
    checks: Checks


DOWN: apidocs.Answers = {
    503: apidocs.answer("The database or Redis is down, or not migrated", model=Health)
}


@router.get("/healthz", response_model=Health, responses=DOWN)
def healthz(services: ServicesDep) -> JSONResponse:
    needed = {"database": _check_database(services), "redis": _check_redis(services)}
    files_disk = _check_files_disk(services)
    healthy = all(value == "ok" for value in needed.values())
    status = "unavailable" if not healthy else "ok" if files_disk == "ok" else "degraded"
    # Anyone may ask, so it says only what is up: how many streams are open (how busy the
    # site is) is for admins, as dashboard_sse_connections on /metrics.
    body = Health(status=status, checks=Checks(**needed, files_disk=files_disk))
    return JSONResponse(body.model_dump(), status_code=200 if healthy else 503)
