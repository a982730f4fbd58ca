"""Pure sampling of a host's CPU, memory and disks into typed snapshots.

`psutil.cpu_percent(interval=None)` measures since its previous call, so a sampler that calls
`sample_host()` once a second gets one-second figures without ever sleeping inside psutil.
"""

import os
import socket
from datetime import UTC, datetime

import psutil
from pydantic import BaseModel, Field


class CoreTimes(BaseModel):
    """How one core spent the last interval, in percent (Linux adds iowait, irq and more)."""

    user: float
    system: float
    idle: float
    other: dict[str, float]


class CpuLoad(BaseModel):
    overall: float
    per_core: list[float]
    # Over 1, 5 and 15 minutes. A list, not a tuple: a tuple's schema is not valid OpenAPI 3.1.
    load_average: list[float] = Field(min_length=3, max_length=3)


class MemoryUsage(BaseModel):
    total: int
    used: int
    available: int
    percent: float


class DiskUsage(BaseModel):
    device: str
    mountpoint: str
    fstype: str
    total: int
    used: int
    free: int
    percent: float


class HostSnapshot(BaseModel):
    hostname: str
    taken_at: datetime
    boot_time: datetime
    cpu: CpuLoad
    cpu_times: list[CoreTimes]
    memory: MemoryUsage
    disks: list[DiskUsage]


def sample_host() -> HostSnapshot:
    return HostSnapshot(
        hostname=socket.gethostname(),
        taken_at=datetime.now(UTC),
        boot_time=datetime.fromtimestamp(psutil.boot_time(), UTC),
        cpu=sample_cpu_load(),
        cpu_times=sample_cpu_times(),
        memory=sample_memory(),
        disks=sample_disks(),
    )


def sample_cpu_load() -> CpuLoad:
    per_core = psutil.cpu_percent(interval=None, percpu=True)
    overall = sum(per_core) / len(per_core) if per_core else 0.0
    one, five, fifteen = os.getloadavg()
    return CpuLoad(overall=round(overall, 1), per_core=per_core, load_average=[one, five, fifteen])


def sample_cpu_times() -> list[CoreTimes]:
    cores = psutil.cpu_times_percent(interval=None, percpu=True)
    return [_core_times(core._asdict()) for core in cores]


def _core_times(fields: dict[str, float]) -> CoreTimes:
    main = {name: fields.pop(name, 0.0) for name in ("user", "system", "idle")}
    return CoreTimes(**main, other=fields)


def sample_memory() -> MemoryUsage:
    memory = psutil.virtual_memory()
    return MemoryUsage(
        total=memory.total, used=memory.used, available=memory.available, percent=memory.percent
    )


def sample_disks() -> list[DiskUsage]:
    """Every mounted physical partition; one that cannot be read is left out, not fatal."""
    disks = []
    for partition in psutil.disk_partitions(all=False):
        try:
            usage = psutil.disk_usage(partition.mountpoint)
        except OSError:
            continue
        disks.append(
            DiskUsage(
                device=partition.device,
                mountpoint=partition.mountpoint,
                fstype=partition.fstype,
                total=usage.total,
                used=usage.used,
                free=usage.free,
                percent=usage.percent,
            )
        )
    return disks
