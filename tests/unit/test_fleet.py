"""The fleet's status model, its trip through Redis, and the online/offline/forgotten rule."""

import time
from datetime import datetime, timedelta

from redis import Redis

from dashboard.fleet import (
    FLEET_KEY,
    FORGET_AFTER_SECONDS,
    STALE_SECONDS,
    HostGauges,
    WorkerStatus,
    check_fleet,
    fleet_of,
    is_online,
    read_statuses,
    redis_now,
    write_status,
)
from tests.factories import MOMENT, host_snapshot


def gauges() -> HostGauges:
    snapshot = host_snapshot(cpu=25.0, memory=60.0)
    return HostGauges(
        hostname="build-01", cpu=snapshot.cpu, memory=snapshot.memory, disks=snapshot.disks
    )


def status(
    name: str = "worker-1@build-01",
    *,
    reported_at: datetime = MOMENT,
    stopped_at: datetime | None = None,
    running: int = 1,
    done: int = 7,
) -> WorkerStatus:
    return WorkerStatus(
        name=name,
        pid=4242,
        pool="prefork",
        concurrency=2,
        running=running,
        done=done,
        started_at=MOMENT - timedelta(minutes=5),
        reported_at=reported_at,
        stopped_at=stopped_at,
        host=gauges(),
    )


def seconds(value: float) -> timedelta:
    return timedelta(seconds=value)


def test_a_fresh_report_is_online_and_a_stale_one_offline() -> None:
    report = status(reported_at=MOMENT)
    assert is_online(report, MOMENT + seconds(STALE_SECONDS - 0.5))
    assert not is_online(report, MOMENT + seconds(STALE_SECONDS))


def test_a_worker_that_said_it_stopped_is_offline_at_once() -> None:
    report = status(reported_at=MOMENT, stopped_at=MOMENT)
    assert not is_online(report, MOMENT)


def test_the_view_says_how_long_the_worker_has_been_silent() -> None:
    fleet = fleet_of([status(reported_at=MOMENT)], MOMENT + seconds(12.34))
    (worker,) = fleet.workers
    assert worker.online is False
    assert worker.silent_seconds == 12.3
    assert fleet.checked_at == MOMENT + seconds(12.34)
    # Its last report said 1 running; killed outright, it never said those ended.
    assert worker.running is None


def test_an_online_worker_shows_what_it_runs() -> None:
    (worker,) = fleet_of([status(reported_at=MOMENT, running=2)], MOMENT + seconds(1)).workers
    assert (worker.online, worker.running) == (True, 2)


def test_online_workers_come_first_then_by_name() -> None:
    now = MOMENT + seconds(1)
    reports = [
        status("b@host", reported_at=MOMENT),
        status("a@host", reported_at=MOMENT - seconds(60)),
        status("c@host", reported_at=MOMENT, stopped_at=MOMENT),
        status("a2@host", reported_at=MOMENT),
    ]
    fleet = fleet_of(reports, now)
    assert [(w.name, w.online) for w in fleet.workers] == [
        ("a2@host", True),
        ("b@host", True),
        ("a@host", False),
        ("c@host", False),
    ]


def test_a_status_survives_the_trip_through_redis(redis: Redis) -> None:
    written = status(stopped_at=MOMENT)
    write_status(redis, written)
    assert read_statuses(redis) == [written]
    assert redis.hkeys(FLEET_KEY) == [b"worker-1@build-01"]


def test_a_worker_writes_one_field_however_often_it_reports(redis: Redis) -> None:
    write_status(redis, status(done=1))
    write_status(redis, status(done=2))
    (latest,) = read_statuses(redis)
    assert latest.done == 2


def test_an_unreadable_report_is_skipped(redis: Redis) -> None:
    write_status(redis, status())
    redis.hset(FLEET_KEY, "from-another-version", '{"name": "x"}')
    assert [report.name for report in read_statuses(redis)] == ["worker-1@build-01"]


def test_redis_time_is_the_clock(redis: Redis) -> None:
    assert abs(redis_now(redis).timestamp() - time.time()) < 2


def test_workers_offline_for_an_hour_are_dropped_from_the_hash(redis: Redis) -> None:
    now = redis_now(redis)
    long_gone = now - seconds(FORGET_AFTER_SECONDS + 1)
    write_status(redis, status("live@host", reported_at=now))
    write_status(redis, status("killed@host", reported_at=long_gone))
    write_status(redis, status("stopped@host", reported_at=long_gone, stopped_at=long_gone))
    write_status(redis, status("recent@host", reported_at=now - seconds(60)))
    fleet = check_fleet(redis)
    assert [(w.name, w.online) for w in fleet.workers] == [
        ("live@host", True),
        ("recent@host", False),
    ]
    assert sorted(redis.hkeys(FLEET_KEY)) == [b"live@host", b"recent@host"]
