"""The fleet: every worker's own report of itself, kept in one Redis hash.

Each worker's main process writes its status there (one field per Celery node name) every
few seconds (dashboard.fleetreporter); each web process reads the whole hash in one loop
(dashboard.fleetwatcher). Times are Redis's clock (TIME), not the machines': a worker on a
host whose clock is off is then neither shown dead while it reports nor alive after it stops.

A worker is online while its last report is fresh and it has not said it stopped. A warm
shutdown says so at once; a worker killed outright is noticed when its report goes stale.
One offline for FORGET_AFTER_SECONDS is dropped from the hash.
"""

import logging
from collections.abc import Iterable
from datetime import UTC, datetime

from pydantic import BaseModel, ValidationError
from redis import Redis

from dashboard.hoststats import CpuLoad, DiskUsage, MemoryUsage

log = logging.getLogger(__name__)

FLEET_KEY = "dashboard:fleet"
REPORT_SECONDS = 3.0
# Three missed reports: a worker busy or briefly cut off from Redis is not called dead.
STALE_SECONDS = 10.0
FORGET_AFTER_SECONDS = 3600.0


class HostGauges(BaseModel):
    """The figures of the machine a worker runs on."""

    hostname: str
    cpu: CpuLoad
    memory: MemoryUsage
    disks: list[DiskUsage]


class WorkerStatus(BaseModel):
    """What a worker says about itself in each report."""

    name: str  # the Celery node name, e.g. worker-4242@build-01
    pid: int
    pool: str  # prefork, solo, threads...
    concurrency: int
    running: int  # tasks executing right now
    done: int  # tasks ended since the worker started
    started_at: datetime
    reported_at: datetime
    stopped_at: datetime | None = None  # set by a warm shutdown
    host: HostGauges


class WorkerView(WorkerStatus):
    """A worker as the page and the API show it: its report, judged when it was read."""

    # Unknown (null) once offline: a worker killed outright never reported its tasks' ends,
    # so its last count would claim work that is no longer running there.
    running: int | None  # type: ignore[assignment]
    online: bool
    silent_seconds: float  # since its last report


class Fleet(BaseModel):
    checked_at: datetime
    workers: list[WorkerView]


def redis_now(redis: Redis) -> datetime:
    seconds, microseconds = redis.time()
    return datetime.fromtimestamp(seconds + microseconds / 1_000_000, UTC)


def is_online(status: WorkerStatus, now: datetime) -> bool:
    return status.stopped_at is None and _age(status.reported_at, now) < STALE_SECONDS


def is_forgotten(status: WorkerStatus, now: datetime) -> bool:
    last_seen = status.stopped_at or status.reported_at
    return _age(last_seen, now) >= FORGET_AFTER_SECONDS


def _age(moment: datetime, now: datetime) -> float:
    return (now - moment).total_seconds()


def view_of(status: WorkerStatus, now: datetime) -> WorkerView:
    silent = max(0.0, _age(status.reported_at, now))
    online = is_online(status, now)
    return WorkerView(
        **status.model_dump(exclude={"running"}),
        running=status.running if online else None,
        online=online,
        silent_seconds=round(silent, 1),
    )


def fleet_of(statuses: Iterable[WorkerStatus], now: datetime) -> Fleet:
    """Online workers first, each group by name; forgotten ones left out."""
    kept = [view_of(status, now) for status in statuses if not is_forgotten(status, now)]
    kept.sort(key=lambda worker: (not worker.online, worker.name))
    return Fleet(checked_at=now, workers=kept)


def write_status(redis: Redis, status: WorkerStatus) -> None:
    redis.hset(FLEET_KEY, status.name, status.model_dump_json())


def read_statuses(redis: Redis) -> list[WorkerStatus]:
    statuses = []
    raw_reports: dict[bytes, bytes] = redis.hgetall(FLEET_KEY)  # type: ignore[assignment]
    for name, raw in raw_reports.items():
        try:
            statuses.append(WorkerStatus.model_validate_json(raw))
        except ValidationError:  # from an older or newer version of the worker: skip it
            log.warning("ignoring an unreadable fleet report from %r", name)
    return statuses


def check_fleet(redis: Redis) -> Fleet:
    """The fleet as of now, after dropping the workers offline for too long."""
    now = redis_now(redis)
    statuses = read_statuses(redis)
    forgotten = [status.name for status in statuses if is_forgotten(status, now)]
    if forgotten:
        redis.hdel(FLEET_KEY, *forgotten)
    return fleet_of(statuses, now)
