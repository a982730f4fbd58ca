"""Closing as LOST the tasks whose worker went silent, on a real Redis and SQLite."""

import json
import time

import pytest
from redis import Redis
from sqlalchemy import Engine
from sqlmodel import Session

from dashboard import crud, reaper, runtime
from dashboard.events import STREAM_KEY
from dashboard.models import TaskState
from dashboard.runguard import HEARTBEATS_KEY, claim_key

LOST_AFTER = 60.0


@pytest.fixture(autouse=True)
def events_to_test_redis(redis: Redis, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(runtime, "redis", lambda: redis)


def running_task(engine: Engine, task_id: str, *, silent_for: float, redis: Redis) -> None:
    with Session(engine) as session:
        crud.create_task(session, task_id=task_id, kind="demo", params={}, owner_id=None)
        crud.mark_started(session, task_id=task_id, kind="demo", params={}, worker="w1@box")
    beat = {"at": time.time() - silent_for, "worker": "w1@box"}
    redis.hset(HEARTBEATS_KEY, task_id, json.dumps(beat))


def state_of(engine: Engine, task_id: str) -> tuple[str, str | None]:
    with Session(engine) as session:
        row = crud.get_task(session, task_id=task_id)
        assert row is not None
        return row.state, row.error


def reap_later(engine: Engine, redis: Redis) -> list[str]:
    """A sweep long enough after the last one to confirm what it found."""
    later = time.time() + reaper.CONFIRM_SECONDS
    return reaper.reap(redis, engine, lost_after=LOST_AFTER, now=later)


def test_a_task_silent_past_the_limit_ends_lost_saying_why(engine: Engine, redis: Redis) -> None:
    running_task(engine, "gone", silent_for=90, redis=redis)
    assert reaper.reap(redis, engine, lost_after=LOST_AFTER) == []  # seen once: a suspect
    assert reap_later(engine, redis) == ["gone"]
    state, error = state_of(engine, "gone")
    assert state == TaskState.LOST
    assert error is not None and error.startswith("no heartbeat from its worker w1@box for 9")
    assert redis.hget(HEARTBEATS_KEY, "gone") is None
    assert not redis.exists(reaper.SUSPECTS_KEY)
    ((_, fields),) = redis.xrevrange(STREAM_KEY, count=1)  # the page is told
    assert json.loads(fields[b"data"])["state"] == "LOST"


def test_a_recent_heartbeat_or_a_held_claim_keeps_the_task_running(
    engine: Engine, redis: Redis
) -> None:
    running_task(engine, "recent", silent_for=5, redis=redis)
    running_task(engine, "claimed", silent_for=90, redis=redis)
    redis.set(claim_key("claimed"), "holder", px=10_000)
    assert reaper.reap(redis, engine, lost_after=LOST_AFTER) == []
    assert state_of(engine, "recent")[0] == state_of(engine, "claimed")[0] == TaskState.STARTED


def test_a_task_that_ended_meanwhile_keeps_its_end(engine: Engine, redis: Redis) -> None:
    running_task(engine, "done", silent_for=90, redis=redis)
    with Session(engine) as session:
        crud.record_final(
            session, task_id="done", kind="demo", params={}, state=TaskState.SUCCESS, result={}
        )
    assert reaper.reap(redis, engine, lost_after=LOST_AFTER) == []
    assert reap_later(engine, redis) == []
    assert state_of(engine, "done") == (TaskState.SUCCESS, None)
    assert redis.hget(HEARTBEATS_KEY, "done") is None


def test_one_replica_sweeps_at_a_time(engine: Engine, redis: Redis) -> None:
    running_task(engine, "gone", silent_for=90, redis=redis)
    redis.set(reaper.SWEEP_LOCK_KEY, "1", px=10_000)  # another web process is sweeping
    reaper.sweep_once(redis, engine, lost_after=LOST_AFTER)
    assert state_of(engine, "gone")[0] == TaskState.STARTED
    redis.delete(reaper.SWEEP_LOCK_KEY)
    reaper.sweep_once(redis, engine, lost_after=LOST_AFTER)
    assert reap_later(engine, redis) == ["gone"]


def test_a_stale_stamp_renewed_before_the_second_look_keeps_the_task_running(
    engine: Engine, redis: Redis
) -> None:
    """Redis back after a minute away: every stamp is stale until the workers' next renewal
    (probe: a task closed LOST here went on to succeed 2.6 s later)."""
    running_task(engine, "alive", silent_for=62, redis=redis)
    assert reaper.reap(redis, engine, lost_after=LOST_AFTER) == []
    redis.hset(HEARTBEATS_KEY, "alive", json.dumps({"at": time.time(), "worker": "w1@box"}))
    assert reap_later(engine, redis) == []
    assert state_of(engine, "alive")[0] == TaskState.STARTED


def test_suspects_of_tasks_that_let_go_of_their_heartbeat_are_forgotten(
    engine: Engine, redis: Redis
) -> None:
    running_task(engine, "ended", silent_for=90, redis=redis)
    assert reaper.reap(redis, engine, lost_after=LOST_AFTER) == []
    assert redis.hexists(reaper.SUSPECTS_KEY, "ended")
    redis.hdel(HEARTBEATS_KEY, "ended")  # its run ended and released it
    reaper.reap(redis, engine, lost_after=LOST_AFTER)
    assert not redis.exists(reaper.SUSPECTS_KEY)
