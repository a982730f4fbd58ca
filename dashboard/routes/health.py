"""Liveness of what the web process needs: 200 when all is up, 503 naming what is down."""

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlmodel import Session

from dashboard import migrate
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


@router.get("/healthz")
def healthz(services: ServicesDep) -> JSONResponse:
    checks = {"database": _check_database(services), "redis": _check_redis(services)}
    healthy = all(value == "ok" for value in checks.values())
    body = {
        "status": "ok" if healthy else "unavailable",
        "checks": checks,
        # This process's open event streams: a closed browser tab must not stay counted.
        "sse_connections": services.hub.connection_count,
    }
    return JSONResponse(body, status_code=200 if healthy else 503)
