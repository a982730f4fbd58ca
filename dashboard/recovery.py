"""Gives the messages of a worker that died outright back to the queue.

Why this exists: with Redis as broker, a message a worker has taken but not acknowledged
(acks_late) waits in kombu's `unacked` hash until the visibility timeout passes. That timeout
must outlast the longest task (two hours here), so a worker killed with SIGKILL would leave
its tasks stuck for that long. Instead each worker keeps a heartbeat key alive that lists
the tasks it holds (received and not yet finished); every few seconds one worker (under a
lock) sweeps the hash and restores the messages that no live worker holds. A live worker's
long task is never touched. A task a live worker let go without acknowledging it (Celery
terminates running tasks when the broker connection drops, and the hand-back fails while
Redis is away) is restored too. RabbitMQ needs none of this: it redelivers by itself.
"""

import json
import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from typing import Any

from celery.signals import worker_ready, worker_shutdown
from celery.worker import state as worker_state
from redis import Redis

from dashboard import runtime

log = logging.getLogger(__name__)

SWEEP_LOCK_KEY = "dashboard:recovery-lock"
UNACKED_KEY = "unacked"  # kombu's default names for the Redis transport
UNACKED_INDEX_KEY = "unacked_index"
HEARTBEAT_SECONDS = 3
HEARTBEAT_TTL = 10
# A message just taken may not have its holder recorded yet; leave it alone this long.
GRACE_SECONDS = 10

INSTANCE_ID = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
_stop = threading.Event()


def heartbeat_key(instance_id: str) -> str:
    return f"dashboard:worker-alive:{instance_id}"


def beat(redis: Redis, held: Iterable[str] = (), instance_id: str = INSTANCE_ID) -> None:
    presence = {"at": time.time(), "tasks": sorted(held)}
    redis.set(heartbeat_key(instance_id), json.dumps(presence), ex=HEARTBEAT_TTL)


def held_by_live_workers(redis: Redis) -> set[str]:
    """The ids of every task some live worker says it holds."""
    keys = list(redis.scan_iter(match=heartbeat_key("*"), count=500))
    held: set[str] = set()
    for value in redis.mget(keys) if keys else []:
        if value is None:  # expired between the scan and the read
            continue
        try:
            held.update(json.loads(value)["tasks"])
        except (TypeError, ValueError, KeyError):  # unreadable: holds nothing we can name
            continue
    return held


def orphaned_tags(redis: Redis, *, now: float, everyone_dead: bool = False) -> list[str]:
    """Delivery tags of unacknowledged messages that no live worker holds. A message just
    delivered may not be listed by its worker yet: it is left alone for GRACE_SECONDS."""
    held = set() if everyone_dead else held_by_live_workers(redis)
    orphans = []
    for tag, payload in redis.hgetall(UNACKED_KEY).items():
        if message_task_id(payload) in held:
            continue
        delivered_at = redis.zscore(UNACKED_INDEX_KEY, tag) or 0.0
        if everyone_dead or now - delivered_at >= GRACE_SECONDS:
            orphans.append(tag.decode() if isinstance(tag, bytes) else tag)
    return orphans


def message_task_id(payload: bytes | str) -> str | None:
    try:
        message = json.loads(payload)[0]
        return str(message["headers"]["id"])
    except (ValueError, KeyError, IndexError, TypeError):
        return None


def sweep(redis: Redis, restore: Callable[[str], None], *, everyone_dead: bool = False) -> int:
    """Restores orphaned messages; returns how many. One sweeper at a time, cluster-wide."""
    if not redis.set(SWEEP_LOCK_KEY, INSTANCE_ID, nx=True, ex=30):
        return 0
    try:
        tags = orphaned_tags(redis, now=time.time(), everyone_dead=everyone_dead)
        for tag in tags:
            restore(tag)
        if tags:
            log.warning("restored %d message(s) of workers that died", len(tags))
        return len(tags)
    finally:
        redis.delete(SWEEP_LOCK_KEY)


def sweep_broker(app: Any, *, everyone_dead: bool = False) -> int:
    """Sweeps the broker of a Celery app; does nothing off Redis, whose broker redelivers."""
    with app.connection_for_write() as connection:
        if connection.transport.driver_type != "redis":
            return 0
        channel = connection.default_channel

        def restore(tag: str) -> None:
            # To the front of the queue (RPUSH; kombu's consumers pop from that end): a task
            # that had started runs again next, not after everything queued since.
            channel.qos.restore_by_tag(tag, leftmost=False)

        return sweep(runtime.redis(), restore, everyone_dead=everyone_dead)


_last_held: set[str] = set()


def tasks_held() -> set[str]:
    """What this worker has received and not yet finished (running or waiting for a slot)."""
    global _last_held
    for _ in range(5):
        try:  # Celery's weak sets, which the consumer thread may change while we copy them
            requests = [*worker_state.reserved_requests, *worker_state.active_requests]
        except RuntimeError:
            continue
        _last_held = {request.id for request in requests}
        break
    return _last_held


def _presence_loop(app: Any) -> None:
    while not _stop.wait(HEARTBEAT_SECONDS):
        try:
            beat(runtime.redis(), tasks_held())
            sweep_broker(app)
        except Exception:  # a Redis outage must not end the loop; it tries again next beat
            log.exception("worker heartbeat or recovery sweep failed")


@worker_ready.connect
def _start_presence(sender: Any, **_: Any) -> None:
    beat(runtime.redis(), tasks_held())
    threading.Thread(
        target=_presence_loop, args=(sender.app,), name="dashboard-presence", daemon=True
    ).start()


@worker_shutdown.connect
def _stop_presence(**_: Any) -> None:
    _stop.set()
    runtime.redis().delete(heartbeat_key(INSTANCE_ID))
