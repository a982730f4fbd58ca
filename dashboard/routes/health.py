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
    # Anyone may ask, so it says only what is up: how many streams are open (how busy the
    # site is) is for admins, as dashboard_sse_connections on /metrics.
    body = {"status": "ok" if healthy else "unavailable", "checks": checks}
    return JSONResponse(body, status_code=200 if healthy else 503)
