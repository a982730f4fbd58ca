"""Liveness of what the web process needs: 200 when all is up, 503 naming what is down."""

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlalchemy import text
from sqlmodel import Session

from dashboard.deps import ServicesDep
from dashboard.services import Services

router = APIRouter(tags=["health"])


def _check_database(services: Services) -> str:
    try:
        with Session(services.engine) as session:
            session.exec(text("SELECT 1"))  # type: ignore[call-overload]
    except Exception as error:
        return f"down: {type(error).__name__}"
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
