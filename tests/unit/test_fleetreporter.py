"""A worker's report of itself: its identity, Celery's counts, its gauges, and its last word."""

import socket
import threading
from collections.abc import Iterator
from types import SimpleNamespace

import pytest
from celery.concurrency.prefork import TaskPool
from celery.worker import state as worker_state
from redis import Redis

from dashboard.fleet import read_statuses
from dashboard.fleetreporter import (
    FleetReporter,
    WorkerIdentity,
    identity_of,
    sample_gauges,
    task_counts,
)
from tests.processes import wait_until

IDENTITY = WorkerIdentity(name="worker-1@build-01", pid=4242, pool="prefork", concurrency=2)


class FakeRequest:
    """What Celery's worker state keeps of a request: its id and task name."""

    def __init__(self, task_id: str) -> None:
        self.id = task_id
        self.name = "dashboard.demo"


@pytest.fixture
def clean_worker_state() -> Iterator[None]:
    worker_state.reset_state()
    yield
    worker_state.reset_state()


def test_identity_comes_from_the_consumer_and_its_controller() -> None:
    controller = SimpleNamespace(pool_cls=TaskPool, concurrency=3)
    app = SimpleNamespace(conf=SimpleNamespace(worker_pool="solo", worker_concurrency=9))
    consumer = SimpleNamespace(hostname="worker-7@box", controller=controller, app=app)
    identity = identity_of(consumer)
    assert (identity.name, identity.pool, identity.concurrency) == ("worker-7@box", "prefork", 3)


def test_counts_follow_celerys_worker_state(clean_worker_state: None) -> None:
    first, second = FakeRequest("a"), FakeRequest("b")
    assert task_counts() == (0, 0)
    worker_state.task_accepted(first)
    worker_state.task_accepted(second)
    assert task_counts() == (2, 0)
    worker_state.task_ready(first, successful=True)
    assert task_counts() == (1, 1)
    worker_state.task_ready(second)
    assert task_counts() == (0, 2)


def test_gauges_describe_this_machine() -> None:
    gauges = sample_gauges()
    assert gauges.hostname == socket.gethostname()
    assert 0 < gauges.memory.used < gauges.memory.total and gauges.disks


def test_a_report_lands_in_the_hash_with_counts_and_gauges(
    redis: Redis, clean_worker_state: None
) -> None:
    reporter = FleetReporter(IDENTITY, redis=lambda: redis)
    worker_state.task_accepted(FakeRequest("a"))
    reporter.report()
    (status,) = read_statuses(redis)
    assert (status.name, status.pid, status.pool, status.concurrency) == (
        "worker-1@build-01",
        4242,
        "prefork",
        2,
    )
    assert (status.running, status.done, status.stopped_at) == (1, 0, None)
    assert status.host.hostname == socket.gethostname()
    assert status.started_at <= status.reported_at


def test_the_loop_reports_until_stopped_then_says_it_stopped(redis: Redis) -> None:
    reporter = FleetReporter(IDENTITY, redis=lambda: redis, interval=0.05)
    reporter.start()
    wait_until(lambda: bool(read_statuses(redis)), "the first report", 5, pause=0.01)
    first = read_statuses(redis)[0]
    wait_until(lambda: read_statuses(redis)[0] != first, "a second report", 5, pause=0.01)
    reporter.stop()
    (last,) = read_statuses(redis)
    assert last.stopped_at is not None and last.started_at == first.started_at
    assert not any(t.name == "dashboard-fleet" for t in threading.enumerate())
    assert read_statuses(redis) == [last], "nothing reports after the last word"


def test_a_failing_report_does_not_end_the_loop(redis: Redis) -> None:
    calls = {"count": 0}
    second = threading.Event()

    def flaky() -> object:
        calls["count"] += 1
        if calls["count"] == 1:
            raise OSError("a mount vanished")
        second.set()
        return sample_gauges()

    reporter = FleetReporter(IDENTITY, redis=lambda: redis, sample=flaky, interval=0.05)  # type: ignore[arg-type]
    reporter.start()
    assert second.wait(5)
    reporter.stop()
    assert read_statuses(redis)[0].stopped_at is not None


def test_a_change_of_the_counts_is_reported_at_once_with_the_last_gauges(redis: Redis) -> None:
    """The regular report is an hour away here: only the look at the counts between reports
    can bring the new count into the hash."""
    counts = {"now": (0, 0)}
    samples = {"taken": 0}

    def sample() -> object:
        samples["taken"] += 1
        return sample_gauges()

    reporter = FleetReporter(
        IDENTITY,
        redis=lambda: redis,
        sample=sample,  # type: ignore[arg-type]
        counts=lambda: counts["now"],
        interval=3600,
        watch=0.01,
    )
    reporter.start()
    try:
        wait_until(lambda: bool(read_statuses(redis)), "the first report", 5, pause=0.01)
        counts["now"] = (1, 0)  # a task started
        wait_until(lambda: read_statuses(redis)[0].running == 1, "the start reported", 5)
        counts["now"] = (0, 1)  # and ended
        wait_until(lambda: read_statuses(redis)[0].done == 1, "the end reported", 5)
        assert samples["taken"] == 1, "the gauges are sampled on the regular reports only"
    finally:
        reporter.stop()
