"""What /metrics exports for known contents of a real Redis, broker queue and event hub."""

import shutil
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from celery import Celery
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.registry import Collector
from redis import Redis
from redis.asyncio import Redis as AsyncRedis
from redis.backoff import NoBackoff
from redis.retry import Retry

from dashboard import collectors, fleet, metrics
from dashboard.events import Audience
from dashboard.hub import EventHub
from dashboard.models import TaskState, TaskView
from dashboard.redisserver import EmbeddedRedis
from tests.factories import host_snapshot
from tests.processes import free_port

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def scrape(*sources: Collector) -> Samples:
    """The text a scrape returns, parsed back: each sample by name and labels."""
    registry = CollectorRegistry()
    for source in sources:
        registry.register(source)
    text = generate_latest(registry).decode()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples[(name, tuple(sorted(labels.items())))]


def test_task_figures_are_exported_from_redis(redis: Redis) -> None:
    redis.hset(metrics.SUBMITTED_KEY, mapping={"pi": 3, "demo": 1})
    redis.hset(metrics.FINISHED_KEY, mapping={"SUCCESS": 2, "FAILURE": 1})
    # Each bucket's own count, as dashboard.metrics keeps them.
    redis.hset(metrics.RUNTIME_KEY, mapping={"pi:0.5": 1, "pi:60.0": 2, "pi:sum": 100.5})
    samples = scrape(collectors.TaskFigures(redis))
    assert value(samples, "dashboard_task_metrics_up") == 1
    assert value(samples, "dashboard_tasks_submitted_total", kind="pi") == 3
    assert value(samples, "dashboard_tasks_submitted_total", kind="demo") == 1
    assert value(samples, "dashboard_tasks_submitted_total", kind="csv") == 0  # known, not seen
    assert value(samples, "dashboard_tasks_finished_total", state="SUCCESS") == 2
    assert value(samples, "dashboard_tasks_finished_total", state="FAILURE") == 1
    assert value(samples, "dashboard_tasks_finished_total", state="LOST") == 0
    bucket = "dashboard_task_runtime_seconds_bucket"
    assert value(samples, bucket, kind="pi", le="0.1") == 0
    assert value(samples, bucket, kind="pi", le="0.5") == 1
    assert value(samples, bucket, kind="pi", le="30.0") == 1
    assert value(samples, bucket, kind="pi", le="60.0") == 3  # cumulative, as Prometheus wants
    assert value(samples, bucket, kind="pi", le="+Inf") == 3
    assert value(samples, "dashboard_task_runtime_seconds_count", kind="pi") == 3
    assert value(samples, "dashboard_task_runtime_seconds_sum", kind="pi") == 100.5
    assert value(samples, "dashboard_task_runtime_seconds_count", kind="csv") == 0


def test_what_was_counted_is_what_is_exported(redis: Redis) -> None:
    started = datetime(2030, 1, 1, tzinfo=UTC)
    view = TaskView(
        id="t1",
        kind="demo",
        params={},
        state=TaskState.SUCCESS,
        queued_at=started,
        started_at=started,
        finished_at=started + timedelta(seconds=3),
        runtime_seconds=3,
    )
    with redis.pipeline() as pipe:
        metrics.add_submitted(pipe, "demo")
        pipe.execute()
    metrics.count_ending(redis, view)
    samples = scrape(collectors.TaskFigures(redis))
    assert value(samples, "dashboard_tasks_submitted_total", kind="demo") == 1
    assert value(samples, "dashboard_tasks_finished_total", state="SUCCESS") == 1
    assert value(samples, "dashboard_task_runtime_seconds_bucket", kind="demo", le="2.5") == 0
    assert value(samples, "dashboard_task_runtime_seconds_bucket", kind="demo", le="5.0") == 1
    assert value(samples, "dashboard_task_runtime_seconds_sum", kind="demo") == 3


def test_kinds_no_longer_known_are_still_exported(redis: Redis) -> None:
    redis.hset(metrics.RUNTIME_KEY, mapping={"retired:+Inf": 4, "retired:sum": 9000})
    samples = scrape(collectors.TaskFigures(redis))
    assert value(samples, "dashboard_task_runtime_seconds_count", kind="retired") == 4


def test_without_redis_the_scrape_says_so_instead_of_failing() -> None:
    away = Redis(port=free_port(), retry=Retry(NoBackoff(), 0))
    samples = scrape(collectors.TaskFigures(away))
    assert samples == {("dashboard_task_metrics_up", ()): 0}


@pytest.fixture
def broker(redis_server: EmbeddedRedis, redis: Redis) -> Iterator[Celery]:
    """A Celery app of the test's own whose broker is the private Redis (emptied first)."""
    app = Celery("queue-length", broker=redis_server.url, set_as_current=False)
    yield app
    app.close()


def test_the_queue_length_counts_waiting_messages(broker: Celery) -> None:
    assert collectors.waiting_messages(broker, "celery") == 0  # never declared: none waiting
    for _ in range(2):
        broker.send_task("dashboard.demo", kwargs={"seconds": 0, "should_fail": False})
    samples = scrape(collectors.QueueLength(broker))
    assert value(samples, "dashboard_queue_length", queue="celery") == 2
    assert value(samples, "dashboard_broker_up") == 1


def test_a_broker_that_does_not_answer_leaves_the_queue_length_out_and_says_so() -> None:
    away = Celery("away", broker=f"redis://127.0.0.1:{free_port()}/0", set_as_current=False)
    assert collectors.waiting_messages(away, "celery") is None
    assert scrape(collectors.QueueLength(away)) == {("dashboard_broker_up", ()): 0}


def test_open_sse_connections_are_counted() -> None:
    hub = EventHub(AsyncRedis(port=free_port()), formatters={})
    with hub.subscribe(Audience(user_id=1)), hub.subscribe(Audience(user_id=2, everyone=True)):
        assert value(scrape(collectors.SseConnections(hub)), "dashboard_sse_connections") == 2
    assert value(scrape(collectors.SseConnections(hub)), "dashboard_sse_connections") == 0


def test_the_files_disk_is_exported_with_what_is_kept_free(tmp_path: Path) -> None:
    samples = scrape(collectors.FilesDisk(tmp_path / "files", kept_free_bytes=100 * 2**20))
    free = value(samples, "dashboard_files_disk_free_bytes")
    assert abs(free - shutil.disk_usage(tmp_path).free) < 64 * 2**20
    assert value(samples, "dashboard_files_disk_kept_free_bytes") == 100 * 2**20


def test_online_workers_and_their_slots_are_exported(redis: Redis) -> None:
    """Zero workers is the alert /healthz cannot give: a web is healthy without any."""
    now = fleet.redis_now(redis)

    def report(name: str, seen: datetime, running: int) -> fleet.WorkerStatus:
        gauges = fleet.HostGauges.model_validate(host_snapshot().model_dump(), strict=False)
        return fleet.WorkerStatus(
            name=name, pid=1, pool="prefork", concurrency=2, running=running, done=0,
            started_at=seen, reported_at=seen, host=gauges,
        )  # fmt: skip

    assert value(scrape(collectors.FleetSize(redis)), "dashboard_workers_online") == 0
    fleet.write_status(redis, report("a@h", now, running=1))
    fleet.write_status(redis, report("b@h", now, running=2))
    fleet.write_status(redis, report("gone@h", now - timedelta(minutes=1), running=2))
    samples = scrape(collectors.FleetSize(redis))
    assert value(samples, "dashboard_workers_online") == 2
    assert value(samples, "dashboard_worker_slots", use="all") == 4
    assert value(samples, "dashboard_worker_slots", use="busy") == 3
