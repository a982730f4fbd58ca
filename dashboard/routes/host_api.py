"""Host statistics as JSON. Answers come from the process's sampler, never sampled per request."""

from fastapi import APIRouter, HTTPException

from dashboard import apidocs
from dashboard.deps import LOGGED_IN, ServicesDep
from dashboard.hoststats import CoreTimes, CpuLoad, DiskUsage, HostSnapshot

ANSWERS: apidocs.Answers = {
    **apidocs.NEEDS_LOGIN,
    503: apidocs.answer(
        "The first host sample is still being taken (for a second after the server starts), "
        "or the database cannot answer",
        headers=apidocs.RETRY_AFTER,
    ),
}
router = APIRouter(prefix="/api", tags=["host"], dependencies=LOGGED_IN, responses=ANSWERS)


def _latest(services: ServicesDep) -> HostSnapshot:
    snapshot = services.sampler.latest
    if snapshot is None:
        detail = "the first host sample is still being taken"
        raise HTTPException(503, detail=detail, headers={"Retry-After": "1"})  # sampled each second
    return snapshot


@router.get("/host", summary="Host gauges, all at once", response_model=HostSnapshot)
def host(services: ServicesDep) -> HostSnapshot:
    """Everything at once: CPU, memory and disks of the host serving this page."""
    return _latest(services)


@router.get("/cpu/percent", summary="CPU load", response_model=CpuLoad)
def cpu_percent(services: ServicesDep) -> CpuLoad:
    """CPU load over the last second, overall and per core, with the load average."""
    return _latest(services).cpu


@router.get("/cpu/times_percent", summary="CPU time by kind", response_model=list[CoreTimes])
def cpu_times_percent(services: ServicesDep) -> list[CoreTimes]:
    """How each core spent the last second: user, system, idle and the rest, in percent."""
    return _latest(services).cpu_times


@router.get("/partitions/usage", summary="Disk usage by partition", response_model=list[DiskUsage])
def partitions_usage(services: ServicesDep) -> list[DiskUsage]:
    """Every mounted partition: total, used and free bytes, and percent used."""
    return _latest(services).disks
