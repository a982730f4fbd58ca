"""What `GET /metrics` exports, gathered when Prometheus scrapes.

Task counters and the runtime histogram are read from Redis, where dashboard.metrics counts
them, so every web replica exports the same cluster-wide figures (aggregate replicas with
`max`, not `sum`). Open SSE connections and the event lag belong to the web process that
answers. The queue length is asked of the broker at each scrape.

A source that does not answer leaves its figures out of that scrape (and
`dashboard_task_metrics_up` says so) rather than failing the whole scrape.
"""

import logging
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from celery import Celery
from kombu.exceptions import OperationalError
from prometheus_client import CollectorRegistry, GCCollector, PlatformCollector, ProcessCollector
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from redis import Redis
from redis.exceptions import RedisError

from dashboard import diskroom, fleet, metrics
from dashboard.hub import EventHub
from dashboard.models import FINAL_STATES, TaskKind
from dashboard.services import Services

log = logging.getLogger(__name__)
KINDS = [kind.value for kind in TaskKind]
STATES = [state.value for state in FINAL_STATES]


class TaskFigures:
    """Submitted and finished tasks and their runtimes, across the cluster (from Redis)."""

    def __init__(self, redis: Redis) -> None:
        self.redis = redis

    def collect(self) -> Iterator[Metric]:
        try:
            submitted, finished, runtime = self._read()
        except metrics.REDIS_FAILURES as error:
            log.warning("task metrics unavailable: %s", error)
            yield GaugeMetricFamily("dashboard_task_metrics_up", _UP_HELP, value=0)
            return
        yield GaugeMetricFamily("dashboard_task_metrics_up", _UP_HELP, value=1)
        yield _counter("dashboard_tasks_submitted", "Tasks submitted.", "kind", submitted, KINDS)
        yield _counter("dashboard_tasks_finished", "Tasks ended.", "state", finished, STATES)
        yield runtime_histogram(runtime)

    def _read(self) -> tuple[dict[str, float], dict[str, float], dict[str, float]]:
        # One transaction: the runtime buckets always agree with the finished counts.
        with self.redis.pipeline(transaction=True) as pipe:
            pipe.hgetall(metrics.SUBMITTED_KEY)
            pipe.hgetall(metrics.FINISHED_KEY)
            pipe.hgetall(metrics.RUNTIME_KEY)
            submitted, finished, runtime = pipe.execute()
        return _numbers(submitted), _numbers(finished), _numbers(runtime)


_UP_HELP = "1 when the task figures could be read from Redis in this scrape, else 0."


def _numbers(raw: dict[bytes | str, bytes | str]) -> dict[str, float]:
    return {_text(field): float(_text(value)) for field, value in raw.items()}


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _counter(
    name: str, help_text: str, label: str, counts: dict[str, float], known: Iterable[str]
) -> CounterMetricFamily:
    """Every known label value appears, at 0 until counted, so rates work from the start."""
    family = CounterMetricFamily(name, help_text, labels=[label])
    for value in sorted(set(known) | counts.keys()):
        family.add_metric([value], counts.get(value, 0.0))
    return family


def runtime_histogram(fields: dict[str, float]) -> HistogramMetricFamily:
    """Redis keeps each bucket's own count; Prometheus wants them cumulative."""
    family = HistogramMetricFamily(
        "dashboard_task_runtime_seconds",
        "Seconds from a task's start to its end, for tasks that ran.",
        labels=["kind"],
    )
    kinds = {field.rpartition(":")[0] for field in fields} | set(KINDS)
    for kind in sorted(kinds):
        cumulative = 0.0
        buckets = []
        for bound in metrics.RUNTIME_BUCKETS:
            cumulative += fields.get(metrics.bucket_field(kind, bound), 0.0)
            buckets.append((metrics.bound_text(bound), cumulative))
        family.add_metric([kind], buckets, fields.get(f"{kind}:{metrics.SUM_FIELD}", 0.0))
    return family


class QueueLength:
    """Messages waiting in Celery's queue: on Redis the LLEN of its lists (one per priority),
    on RabbitMQ the message count of a passive queue_declare; kombu asks either the same way."""

    def __init__(self, celery_app: Celery) -> None:
        self.celery_app = celery_app

    def collect(self) -> Iterator[Metric]:
        queue = self.celery_app.conf.task_default_queue
        waiting = waiting_messages(self.celery_app, queue)
        # Said outright: a length left out is easy to miss in a dashboard (operator probe).
        yield GaugeMetricFamily(
            "dashboard_broker_up",
            "1 when the broker answered this scrape, 0 when it did not.",
            value=0 if waiting is None else 1,
        )
        if waiting is None:
            return
        family = GaugeMetricFamily(
            "dashboard_queue_length",
            "Messages waiting in the queue for a worker.",
            labels=["queue"],
        )
        family.add_metric([queue], waiting)
        yield family


def waiting_messages(celery_app: Celery, queue: str) -> int | None:
    """None when the broker does not answer."""
    with celery_app.connection_for_read() as connection:
        channel_errors: tuple[type[BaseException], ...] = connection.channel_errors
        unreachable: tuple[type[BaseException], ...] = (
            *connection.connection_errors,
            OperationalError,
            OSError,
        )
        try:
            # One immediate retry: a scrape must not wait out a broker that is down.
            connection.ensure_connection(max_retries=1, interval_start=0)
            channel: Any = connection.default_channel  # untyped upstream
            declared = channel.queue_declare(queue=queue, passive=True)
        except channel_errors:
            return 0  # no such queue yet: nothing was ever queued and no worker declared it
        except unreachable as error:
            log.warning("queue length unavailable: %s", error)
            return None
    return int(declared.message_count)


class FilesDisk:
    """Free room where task files go, beside what is kept free: alert well before they meet."""

    def __init__(self, files_dir: Path, kept_free_bytes: int) -> None:
        self.files_dir = files_dir
        self.kept_free_bytes = kept_free_bytes

    def collect(self) -> Iterator[Metric]:
        try:
            room = diskroom.room_in(self.files_dir, self.kept_free_bytes)
        except OSError as error:
            log.warning("the files disk is unreadable: %s", error)
            return
        yield GaugeMetricFamily(
            "dashboard_files_disk_free_bytes",
            "Free bytes on the disk of the task files.",
            value=room.free_bytes,
        )
        yield GaugeMetricFamily(
            "dashboard_files_disk_kept_free_bytes",
            "Bytes kept free there (FILES_MIN_FREE_MB): below it, new files are refused.",
            value=room.kept_free_bytes,
        )


class FleetSize:
    """Workers online, and their pool slots: zero workers is the alert /healthz cannot give
    (a web replica is healthy without them; operator probe)."""

    def __init__(self, redis: Redis) -> None:
        self.redis = redis

    def collect(self) -> Iterator[Metric]:
        try:
            now = fleet.redis_now(self.redis)
            online = [s for s in fleet.read_statuses(self.redis) if fleet.is_online(s, now)]
        except RedisError as error:
            log.warning("the fleet is unavailable: %s", error)
            return
        yield GaugeMetricFamily(
            "dashboard_workers_online", "Workers that reported in the last 10 s.", len(online)
        )
        slots = GaugeMetricFamily(
            "dashboard_worker_slots",
            "Pool processes of the online workers: all of them, and those running a task.",
            labels=["use"],
        )
        slots.add_metric(["all"], sum(status.concurrency for status in online))
        slots.add_metric(["busy"], sum(status.running for status in online))
        yield slots


class SseConnections:
    def __init__(self, hub: EventHub) -> None:
        self.hub = hub

    def collect(self) -> Iterator[Metric]:
        yield GaugeMetricFamily(
            "dashboard_sse_connections",
            "Open server-sent event connections of this web process.",
            value=self.hub.connection_count,
        )


def registry_for(services: Services) -> CollectorRegistry:
    """Made per scrape: it holds no figures of its own, only where to read them."""
    registry = CollectorRegistry()
    for collector in (
        TaskFigures(services.redis),
        QueueLength(services.celery),
        SseConnections(services.hub),
        FleetSize(services.redis),
        FilesDisk(services.settings.files_dir, services.settings.files_kept_free_bytes),
        metrics.EVENT_LAG,
    ):
        registry.register(collector)
    # The process's own CPU, memory, open files and garbage collection.
    ProcessCollector(registry=registry)
    PlatformCollector(registry=registry)
    GCCollector(registry=registry)
    return registry
