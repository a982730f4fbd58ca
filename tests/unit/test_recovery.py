"""Which unacknowledged messages the recovery sweep gives back, on a real Redis."""

import json

from redis import Redis

from dashboard import recovery
from dashboard.recovery import UNACKED_INDEX_KEY, UNACKED_KEY, beat, orphaned_tags

NOW = 1_000_000.0


def unacked(redis: Redis, tag: str, task_id: str, delivered_at: float) -> None:
    message = [{"headers": {"id": task_id}}, "exchange", "routing-key"]
    redis.hset(UNACKED_KEY, tag, json.dumps(message))
    redis.zadd(UNACKED_INDEX_KEY, {tag: delivered_at})


def test_a_message_no_live_worker_holds_is_given_back(redis: Redis) -> None:
    beat(redis, held={"running"}, instance_id="w1")
    unacked(redis, "tag-running", "running", delivered_at=NOW - 60)
    unacked(redis, "tag-let-go", "let-go", delivered_at=NOW - 60)  # its worker let it go
    assert orphaned_tags(redis, now=NOW) == ["tag-let-go"]


def test_a_message_of_a_worker_whose_heartbeat_lapsed_is_given_back(redis: Redis) -> None:
    beat(redis, held={"t-1"}, instance_id="w1")
    unacked(redis, "tag-1", "t-1", delivered_at=NOW - 60)
    redis.delete(recovery.heartbeat_key("w1"))  # SIGKILL: the key expires
    assert orphaned_tags(redis, now=NOW) == ["tag-1"]


def test_a_message_just_delivered_is_left_alone_unless_everyone_is_dead(redis: Redis) -> None:
    unacked(redis, "tag-new", "new", delivered_at=NOW - 1)
    assert orphaned_tags(redis, now=NOW) == []
    beat(redis, held={"new"}, instance_id="w1")
    assert orphaned_tags(redis, now=NOW, everyone_dead=True) == ["tag-new"]


def test_holders_are_read_from_every_live_worker(redis: Redis) -> None:
    beat(redis, held={"a", "b"}, instance_id="w1")
    beat(redis, held={"c"}, instance_id="w2")
    redis.set(recovery.heartbeat_key("w3"), "not json")
    assert recovery.held_by_live_workers(redis) == {"a", "b", "c"}
