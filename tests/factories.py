"""Sample objects for tests: task views and host snapshots with sensible defaults."""

from datetime import UTC, datetime, timedelta
from typing import Any

from dashboard.hoststats import CoreTimes, CpuLoad, DiskUsage, HostSnapshot, MemoryUsage
from dashboard.models import Progress, TaskState, TaskView

MOMENT = datetime(2026, 11, 23, 12, 0, 0, tzinfo=UTC)


def task_view(**overrides: Any) -> TaskView:
    values: dict[str, Any] = {
        "id": "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0",
        "kind": "pi",
        "params": {"digits": 200_000, "method": "chudnovsky"},
        "state": TaskState.QUEUED,
        "queued_at": MOMENT,
    }
    values.update(overrides)
    return TaskView(**values)


def running_pi(percent: float = 42.0) -> TaskView:
    return task_view(
        state=TaskState.PROGRESS,
        started_at=MOMENT + timedelta(seconds=1),
        attempts=1,
        worker="worker-1@host",
        progress=Progress(percent=percent, intermediate="3.14159265358979323846…"),
    )


def finished_pi() -> TaskView:
    preview = "3.1415926535897932384626433832795028841971693993751"[:51]
    return task_view(
        state=TaskState.SUCCESS,
        started_at=MOMENT + timedelta(seconds=1),
        finished_at=MOMENT + timedelta(seconds=3),
        runtime_seconds=2.0,
        attempts=1,
        result={"digits": 200_000, "method": "chudnovsky", "preview": preview, "file": "pi.txt"},
    )


def failed_demo(error: str = "DemoFailure: the demo task failed as asked") -> TaskView:
    return task_view(
        id="11111111-2222-3333-4444-555555555555",
        kind="demo",
        params={"seconds": 7, "should_fail": True, "chosen_at_random": True},
        state=TaskState.FAILURE,
        started_at=MOMENT,
        finished_at=MOMENT + timedelta(seconds=7),
        runtime_seconds=7.0,
        attempts=1,
        error=error,
    )


def host_snapshot(cpu: float = 12.5, memory: float = 40.0) -> HostSnapshot:
    return HostSnapshot(
        hostname="box",
        taken_at=MOMENT,
        boot_time=MOMENT - timedelta(days=1),
        cpu=CpuLoad(overall=cpu, per_core=[cpu, cpu], load_average=[0.5, 0.4, 0.3]),
        cpu_times=[CoreTimes(user=10, system=2.5, idle=87.5, other={"iowait": 0.0})] * 2,
        memory=MemoryUsage(total=8 << 30, used=3 << 30, available=5 << 30, percent=memory),
        disks=[
            DiskUsage(
                device="/dev/vda",
                mountpoint="/",
                fstype="ext4",
                total=100 << 30,
                used=40 << 30,
                free=60 << 30,
                percent=40.0,
            )
        ],
    )


def finished_csv() -> TaskView:
    return task_view(
        id="22222222-3333-4444-5555-666666666666",
        kind="csv",
        params={"source": "sample", "rows": 1_000_000},
        state=TaskState.SUCCESS,
        started_at=MOMENT,
        finished_at=MOMENT + timedelta(seconds=1),
        runtime_seconds=1.0,
        attempts=1,
        result={"source": "sample", "rows": 1_000_000, "bytes": 48_000_000, "file": "files/x.csv"},
    )
