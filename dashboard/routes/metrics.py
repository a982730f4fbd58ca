"""`GET /metrics`: the Prometheus text format, for admins.

Prometheus scrapes it with an admin's personal token as its bearer token
(`authorization: {type: Bearer, credentials: dsh_...}` in the scrape config).
"""

from fastapi import APIRouter
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from dashboard import collectors
from dashboard.deps import ADMIN_ONLY, ServicesDep

router = APIRouter(tags=["metrics"], dependencies=ADMIN_ONLY)


# Sync on purpose: reading Redis and asking the broker block, so FastAPI runs it in a thread.
@router.get("/metrics", include_in_schema=False)
def scrape(services: ServicesDep) -> Response:
    registry = collectors.registry_for(services)
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
