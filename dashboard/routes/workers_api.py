"""The workers as JSON. Answers come from the process's fleet watcher, never read per request."""

from typing import Any

from fastapi import APIRouter, HTTPException

from dashboard.deps import LOGGED_IN, ServicesDep
from dashboard.fleet import Fleet

router = APIRouter(prefix="/api", tags=["workers"], dependencies=LOGGED_IN)
ANSWERS: dict[int | str, dict[str, Any]] = {
    401: {"description": "Not logged in and no valid Bearer token"},
    503: {"description": "The workers' reports have not been read yet (Redis unreachable)"},
}


@router.get("/workers", response_model=Fleet, responses=ANSWERS)
def workers(services: ServicesDep) -> Fleet:
    """Every Celery worker that reported in the last hour, online ones first: its host, pool
    and concurrency, tasks running now and done, last report, and its host's CPU, memory and
    disks. A worker is offline once it stopped, or when it has been silent for 10 s."""
    fleet = services.fleet.latest
    if fleet is None:
        raise HTTPException(503, detail="the workers' reports are still being read")
    return fleet
