"""Counting tasks in a real Redis, and timing event deliveries in this process."""

import logging
from datetime import UTC, datetime, timedelta

import pytest
from redis import Redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from dashboard import metrics
from dashboard.models import TaskState, TaskView
from tests.processes import free_port

QUEUED = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)


def ended(
    state: TaskState, kind: str = "pi", ran_for: float | None = None, task_id: str = "t1"
) -> TaskView:
    """A final view; `ran_for` None: it never started (cancelled while queued)."""
    started = None if ran_for is None else QUEUED + timedelta(seconds=1)
    finished = QUEUED + timedelta(seconds=1 + (ran_for or 0))
    return TaskView(
        id=task_id,
        kind=kind,
        params={},
        state=state,
        queued_at=QUEUED,
        started_at=started,
        finished_at=finished,
        runtime_seconds=ran_for,
    )


def fields(redis: Redis, key: str) -> dict[str, str]:
    return {name.decode(): value.decode() for name, value in redis.hgetall(key).items()}


def unreachable_redis() -> Redis:
    """Nothing listens on its port; it gives up at once instead of retrying with backoff."""
    return Redis(port=free_port(), retry=Retry(NoBackoff(), 0))


def test_submissions_are_counted_per_kind(redis: Redis) -> None:
    with redis.pipeline() as pipe:
        for kind in ("pi", "pi", "csv"):
            metrics.add_submitted(pipe, kind)
        pipe.execute()
    assert fields(redis, metrics.SUBMITTED_KEY) == {"pi": "2", "csv": "1"}


def test_an_ending_counts_its_state_and_its_runtime_in_one_bucket(redis: Redis) -> None:
    metrics.count_ending(redis, ended(TaskState.SUCCESS, "pi", ran_for=0.3))
    metrics.count_ending(redis, ended(TaskState.FAILURE, "pi", ran_for=42))
    metrics.count_ending(redis, ended(TaskState.SUCCESS, "demo", ran_for=7200))
    assert fields(redis, metrics.FINISHED_KEY) == {"SUCCESS": "2", "FAILURE": "1"}
    runtime = fields(redis, metrics.RUNTIME_KEY)
    assert runtime == {
        "pi:0.5": "1",  # 0.3 s: the first bound it fits under
        "pi:60.0": "1",
        "pi:sum": "42.3",
        "demo:+Inf": "1",  # longer than the last finite bound
        "demo:sum": "7200",
    }


def test_a_task_that_never_ran_counts_without_a_runtime(redis: Redis) -> None:
    metrics.count_ending(redis, ended(TaskState.REVOKED))
    assert fields(redis, metrics.FINISHED_KEY) == {"REVOKED": "1"}
    assert fields(redis, metrics.RUNTIME_KEY) == {}


def test_a_bound_value_falls_in_its_own_bucket() -> None:
    assert metrics.bucket_of(1) == 1
    assert metrics.bucket_of(1.0001) == 2.5
    assert metrics.bucket_of(0) == 0.1
    assert metrics.bound_text(60) == "60.0" and metrics.bound_text(float("inf")) == "+Inf"


def test_counting_without_redis_logs_and_fails_nothing(caplog: pytest.LogCaptureFixture) -> None:
    redis = unreachable_redis()
    with caplog.at_level(logging.WARNING, logger="dashboard.metrics"):
        metrics.count_ending(redis, ended(TaskState.SUCCESS, ran_for=1, task_id="lost-count"))
    messages = [record.getMessage() for record in caplog.records]
    assert messages[0].startswith("end of task lost-count not counted")


def lag_histogram() -> dict[str, float]:
    """The event lag histogram's samples: `count`, `sum` and each bucket by its bound."""
    (family,) = metrics.EVENT_LAG.collect()
    samples: dict[str, float] = {}
    for sample in family.samples:
        if sample.name.endswith("_bucket"):
            samples[sample.labels["le"]] = sample.value
        elif sample.name.endswith(("_count", "_sum")):
            samples[sample.name.rpartition("_")[2]] = sample.value
    return samples


def test_a_delivery_is_timed_from_the_entry_id() -> None:
    before = lag_histogram()
    appended_ms = 1_900_000_000_000
    metrics.observe_delivery(f"{appended_ms}-3", now=appended_ms / 1000 + 0.2)
    after = lag_histogram()
    assert after["count"] == before["count"] + 1
    assert after["sum"] == pytest.approx(before["sum"] + 0.2)
    assert after["0.1"] == before["0.1"]  # 0.2 s is above this bound...
    assert after["0.25"] == before["0.25"] + 1  # ...and within this one


def test_host_events_and_clock_skew_are_not_counted_as_lag() -> None:
    before = lag_histogram()
    metrics.observe_delivery(None)  # host gauges never enter the log
    metrics.observe_delivery("not-an-id")
    metrics.observe_delivery("1900000000000-0", now=1_899_999_999.0)  # the web's clock is behind
    after = lag_histogram()
    assert after["count"] == before["count"] + 1
    assert after["sum"] == before["sum"]  # counted as no lag, never as a negative one
