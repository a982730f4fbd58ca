"""Each worker reports itself to the fleet hash every few seconds, from its main process.

The reporter starts on `worker_ready`, which Celery sends in the main process only, so pool
children never report. Its counts come from Celery's own bookkeeping in that process
(`celery.worker.state`): a request is active from the moment a pool process accepts it
until it is ready, and every accepted request is counted, so done = accepted - active.
`task_postrun` could not count them here: it runs in the pool child.

Between its regular reports it looks at the counts several times a second and reports at once
when they change (a task started or ended), with the gauges of the last regular report: the
Workers panel then follows the Active list instead of lagging it by up to REPORT_SECONDS.

A warm shutdown (`worker_shutdown`) stops the thread and writes a last report saying the
worker stopped, so the page shows it offline at once instead of after its report goes stale.
"""

import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from celery.signals import worker_ready, worker_shutdown
from celery.worker import state as worker_state
from redis import Redis

from dashboard import runtime
from dashboard.fleet import REPORT_SECONDS, HostGauges, WorkerStatus, redis_now, write_status
from dashboard.hoststats import sample_cpu_load, sample_disks, sample_memory

log = logging.getLogger(__name__)
# How often the counts are looked at between reports: reading two numbers, no I/O.
WATCH_SECONDS = 0.25
Counts = tuple[int, int]


@dataclass(frozen=True)
class WorkerIdentity:
    """What stays the same for the life of a worker."""

    name: str
    pid: int
    pool: str
    concurrency: int


def identity_of(consumer: Any) -> WorkerIdentity:
    """From the Consumer that `worker_ready` is sent by (its controller is the WorkController)."""
    controller, conf = consumer.controller, consumer.app.conf
    pool_class = getattr(controller, "pool_cls", None)
    # celery.concurrency.prefork.TaskPool -> "prefork"
    pool = pool_class.__module__.rsplit(".", 1)[-1] if pool_class else str(conf.worker_pool)
    concurrency = getattr(controller, "concurrency", None) or conf.worker_concurrency
    return WorkerIdentity(
        name=consumer.hostname, pid=os.getpid(), pool=pool, concurrency=int(concurrency or 0)
    )


def task_counts() -> Counts:
    """(running now, done since start) from this worker process's Celery state."""
    running = len(worker_state.active_requests)
    return running, max(0, worker_state.all_total_count[0] - running)


def sample_gauges() -> HostGauges:
    return HostGauges(
        hostname=socket.gethostname(),
        cpu=sample_cpu_load(),
        memory=sample_memory(),
        disks=sample_disks(),
    )


class FleetReporter:
    def __init__(
        self,
        identity: WorkerIdentity,
        *,
        redis: Callable[[], Redis] = runtime.redis,
        sample: Callable[[], HostGauges] = sample_gauges,
        counts: Callable[[], Counts] = task_counts,
        interval: float = REPORT_SECONDS,
        watch: float = WATCH_SECONDS,
    ) -> None:
        self.identity = identity
        self._redis = redis
        self._sample = sample
        self._counts = counts
        self._interval = interval
        self._watch = watch
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._started_at: datetime | None = None
        self._gauges: HostGauges | None = None
        self._reported: Counts | None = None

    def status(self, *, stopped: bool = False, fresh_gauges: bool = True) -> WorkerStatus:
        # Counted first: a report that then fails (Redis away) waits for the next regular one
        # instead of being tried again at every look at the counts.
        running, done = self._reported = self._counts()
        now = redis_now(self._redis())
        self._started_at = self._started_at or now
        if fresh_gauges or self._gauges is None:
            self._gauges = self._sample()
        return WorkerStatus(
            **vars(self.identity),
            running=running,
            done=done,
            started_at=self._started_at,
            reported_at=now,
            stopped_at=now if stopped else None,
            host=self._gauges,
        )

    def report(self, *, stopped: bool = False, fresh_gauges: bool = True) -> None:
        write_status(self._redis(), self.status(stopped=stopped, fresh_gauges=fresh_gauges))

    def start(self) -> None:
        sample_cpu_load()  # psutil measures CPU since its previous call: make the first count
        self._thread = threading.Thread(target=self._loop, name="dashboard-fleet", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Ends the loop before the last report, so no later "online" one overwrites it."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(self._interval + 5)
        self.report(stopped=True)

    def _loop(self) -> None:
        regular = True
        while True:
            try:
                self.report(fresh_gauges=regular)
            except Exception:  # Redis away, a vanished mount: report again next time
                log.exception("the fleet report of %s failed", self.identity.name)
            regular = self._wait_for_a_change()
            if self._stop.is_set():
                return

    def _wait_for_a_change(self) -> bool:
        """Waits until the interval has passed (True: a regular report is due) or the counts
        differ from those last reported (False), or the reporter is stopped."""
        due = time.monotonic() + self._interval
        while not self._stop.wait(max(0.0, min(self._watch, due - time.monotonic()))):
            if time.monotonic() >= due:
                return True
            if self._counts() != self._reported:
                return False
        return True


_reporter: FleetReporter | None = None


@worker_ready.connect
def _start_reporting(sender: Any, **_: Any) -> None:
    global _reporter
    _reporter = FleetReporter(identity_of(sender))
    _reporter.start()


@worker_shutdown.connect
def _stop_reporting(**_: Any) -> None:
    if _reporter is None:
        return
    try:
        _reporter.stop()
    except Exception:  # Redis gone first: the stale report tells the same a little later
        log.exception("could not report %s as stopped", _reporter.identity.name)
