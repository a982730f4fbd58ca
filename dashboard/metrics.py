"""Counting what happens to tasks, for `GET /metrics` (see dashboard.collectors).

Task figures are counted in Redis, not in the process that saw them: tasks are submitted by
any web replica and end in any worker, so only a shared, atomic store (HINCRBY on a few
hashes, kept by the append-only file) gives cluster-wide counters that survive restarts. The
runtime histogram keeps each bucket's own count (not the cumulative one), so an observation
costs one HINCRBY plus one HINCRBYFLOAT for the sum, whatever the number of buckets.

Counting is best effort on purpose: a Redis that is away loses the count (logged), and never
fails the submission or the task it was about.

The event lag is the exception: it is about one web process's delivery, so it lives in that
process, as a plain prometheus_client histogram.
"""

import logging
import math
import time

from prometheus_client import Histogram
from redis import Redis
from redis.client import Pipeline
from redis.exceptions import RedisError

from dashboard import events
from dashboard.models import TaskView

log = logging.getLogger(__name__)

SUBMITTED_KEY = "dashboard:metrics:submitted"  # field: kind
FINISHED_KEY = "dashboard:metrics:finished"  # field: final state
RUNTIME_KEY = "dashboard:metrics:runtime"  # fields: "<kind>:<bucket bound>" and "<kind>:sum"
# From a 50-digit pi (milliseconds) to the longest task allowed (an hour).
RUNTIME_BUCKETS = (0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600, math.inf)
SUM_FIELD = "sum"
# Any failure of Redis, not only an outage: a count is never worth failing anything for.
REDIS_FAILURES = (RedisError, OSError)

EVENT_LAG = Histogram(
    "dashboard_event_lag_seconds",
    "Time from an event's entry in the log to its delivery to an SSE client by this process.",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
    registry=None,  # each app's registry adds it (dashboard.collectors)
)


def bound_text(bound: float) -> str:
    """A bucket's bound as Prometheus writes it: "0.5", "60.0", "+Inf"."""
    return "+Inf" if math.isinf(bound) else repr(float(bound))


def bucket_field(kind: str, bound: float) -> str:
    return f"{kind}:{bound_text(bound)}"


def bucket_of(seconds: float) -> float:
    """The smallest bound the value fits under (the last bound is +Inf)."""
    return next(bound for bound in RUNTIME_BUCKETS if seconds <= bound)


def add_submitted(pipe: Pipeline, kind: str) -> None:
    """Queues the count of a submission on a pipeline the caller executes (with its event)."""
    pipe.hincrby(SUBMITTED_KEY, kind, 1)


def count_ending(redis: Redis, view: TaskView) -> None:
    """Counts a final state, and its runtime when the task ran; call it once per task, where
    the final state is first recorded."""
    try:
        with redis.pipeline(transaction=True) as pipe:
            add_ending(pipe, view)
            pipe.execute()
    except REDIS_FAILURES as error:
        log.warning("end of task %s not counted: %s", view.id, error)


def add_ending(pipe: Pipeline, view: TaskView) -> None:
    """Queues the counts of a final state on a pipeline the caller executes."""
    pipe.hincrby(FINISHED_KEY, view.state.value, 1)
    if view.runtime_seconds is not None:
        seconds = max(view.runtime_seconds, 0.0)
        pipe.hincrby(RUNTIME_KEY, bucket_field(view.kind, bucket_of(seconds)), 1)
        pipe.hincrbyfloat(RUNTIME_KEY, f"{view.kind}:{SUM_FIELD}", seconds)


def observe_delivery(entry_id: str | None, now: float | None = None) -> None:
    """A log entry's id is the time Redis appended it (milliseconds); the gap to now is how
    late this process delivered it. Clocks of the Redis and web hosts may differ a little:
    a negative gap counts as none."""
    if entry_id is None or not events.is_valid_id(entry_id):
        return
    appended_ms, _ = events.id_key(entry_id)
    now = time.time() if now is None else now
    EVENT_LAG.observe(max(now - appended_ms / 1000, 0.0))
