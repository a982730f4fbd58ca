"""The workers as JSON. Answers come from the process's fleet watcher, never read per request."""

from math import ceil

from fastapi import APIRouter, HTTPException

from dashboard import apidocs
from dashboard.deps import LOGGED_IN, ServicesDep
from dashboard.fleet import Fleet
from dashboard.fleetwatcher import CHECK_SECONDS

router = APIRouter(prefix="/api", tags=["workers"], dependencies=LOGGED_IN)
ANSWERS: apidocs.Answers = {
    **apidocs.NEEDS_LOGIN,
    503: apidocs.answer(
        "The workers' reports have not been read yet (just after the server starts, or Redis "
        "unreachable since), or the database cannot answer",
        headers=apidocs.RETRY_AFTER,
    ),
}


@router.get("/workers", summary="List workers", response_model=Fleet, responses=ANSWERS)
def workers(services: ServicesDep) -> Fleet:
    """Every Celery worker that reported in the last hour, online ones first: its host, pool
    and concurrency, tasks running now and done, last report, and its host's CPU, memory and
    disks. A worker is offline once it stopped, or when it has been silent for 10 s."""
    fleet = services.fleet.latest
    if fleet is None:
        detail = "the workers' reports are still being read"
        # Worth asking again once the watcher has looked again.
        raise HTTPException(503, detail=detail, headers={"Retry-After": str(ceil(CHECK_SECONDS))})
    return fleet
