"""Closes as LOST the tasks whose worker vanished and that nobody took up again.

Every running task's heartbeat is stamped every few seconds (dashboard.runguard). A worker
that dies hands its tasks back and they run again within seconds, which renews the stamp; a
stamp older than TASK_LOST_AFTER_SECONDS with no run holding the task's claim means no
worker is left to run it (the last one is gone, or the broker lost the message). Such a task
ends LOST with the reason, instead of showing as running for ever. Should its message come
back after all, the task is found final and skipped.

A task is closed only when a second sweep, CONFIRM_SECONDS or more after the first, finds the
same stale stamp. When Redis comes back from an outage longer than the limit, every running
task's stamp is stale until its worker's next renewal, a few seconds later; a single look then
closed a task that went on to succeed (a probe saw it).

The sweep runs in the web processes, not in a worker: it must work when every worker is gone.
A Redis lock lets one web replica sweep at a time.
"""

import asyncio
import json
import logging
import time
from dataclasses import dataclass

from redis import Redis
from sqlalchemy import Engine
from sqlmodel import Session

from dashboard import crud, endings, runguard
from dashboard.models import TaskState

log = logging.getLogger(__name__)
SWEEP_LOCK_KEY = "dashboard:reaper-lock"
SWEEP_LOCK_MS = 30_000
# Stale stamps seen once: task id -> {"at": the stamp, "since": when it was first seen stale}.
SUSPECTS_KEY = "dashboard:lost-suspects"
CONFIRM_SECONDS = 2 * runguard.RENEW_SECONDS + 1  # a live worker renews twice meanwhile


@dataclass(frozen=True)
class Heartbeat:
    task_id: str
    at: float
    worker: str


def heartbeats(redis: Redis) -> list[Heartbeat]:
    beats = []
    for task_id, raw in redis.hgetall(runguard.HEARTBEATS_KEY).items():
        try:
            data = json.loads(raw)
            beats.append(
                Heartbeat(runguard.as_text(task_id), float(data["at"]), str(data["worker"]))
            )
        except (ValueError, KeyError, TypeError):
            log.warning("ignoring an unreadable heartbeat for task %r", task_id)
    return beats


def lost_reason(beat: Heartbeat, silent_for: float) -> str:
    return (
        f"no heartbeat from its worker {beat.worker} for {silent_for:.0f} s: "
        "the worker is gone and no other worker took the task up"
    )


def reap(redis: Redis, engine: Engine, *, lost_after: float, now: float | None = None) -> list[str]:
    """Closes the tasks silent for `lost_after` seconds as LOST; returns their ids."""
    now = time.time() if now is None else now
    closed = []
    beats = heartbeats(redis)
    _forget_suspects_without_a_beat(redis, beats)
    for beat in beats:
        silent_for = now - beat.at
        if silent_for < lost_after or redis.exists(runguard.claim_key(beat.task_id)):
            continue
        if not _confirmed(redis, beat, now):
            continue
        redis.hdel(SUSPECTS_KEY, beat.task_id)
        if close_lost(engine, beat.task_id, lost_reason(beat, silent_for)):
            closed.append(beat.task_id)
        redis.hdel(runguard.HEARTBEATS_KEY, beat.task_id)
    if closed:
        log.warning("closed %d task(s) as LOST: their worker is gone", len(closed))
    return closed


def _confirmed(redis: Redis, beat: Heartbeat, now: float) -> bool:
    """True when an earlier sweep found this same stamp stale long enough ago; else notes it."""
    raw = redis.hget(SUSPECTS_KEY, beat.task_id)
    try:
        seen = json.loads(raw) if raw else None
        if seen and seen["at"] == beat.at:
            return bool(now - float(seen["since"]) >= CONFIRM_SECONDS)
    except (ValueError, KeyError, TypeError):
        pass  # unreadable: noted afresh
    redis.hset(SUSPECTS_KEY, beat.task_id, json.dumps({"at": beat.at, "since": now}))
    return False


def _forget_suspects_without_a_beat(redis: Redis, beats: list[Heartbeat]) -> None:
    """A suspect whose task let go of its heartbeat (it ended) is no longer one."""
    beating = {beat.task_id for beat in beats}
    gone = [
        task_id for task_id in redis.hkeys(SUSPECTS_KEY) if runguard.as_text(task_id) not in beating
    ]
    if gone:
        redis.hdel(SUSPECTS_KEY, *gone)


def close_lost(engine: Engine, task_id: str, reason: str) -> bool:
    """True when this closed the task; False when it had ended already."""
    with Session(engine, expire_on_commit=False) as session:
        row = crud.get_task(session, task_id=task_id)
        if row is None or TaskState(row.state).is_final:
            return False
        return endings.close_as_lost(session, row, reason) is not None


def sweep_once(redis: Redis, engine: Engine, *, lost_after: float) -> None:
    """One replica at a time; the lock lapses by itself should this process die mid-sweep."""
    if not redis.set(SWEEP_LOCK_KEY, "1", nx=True, px=SWEEP_LOCK_MS):
        return
    try:
        reap(redis, engine, lost_after=lost_after)
    finally:
        redis.delete(SWEEP_LOCK_KEY)


async def run(redis: Redis, engine: Engine, *, lost_after: float, interval: float) -> None:
    while True:
        await asyncio.sleep(interval)
        try:
            await asyncio.to_thread(sweep_once, redis, engine, lost_after=lost_after)
        except Exception:  # Redis or the database away: sweep again next time
            log.exception("the sweep for lost tasks failed")
