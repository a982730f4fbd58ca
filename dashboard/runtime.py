"""Handles that code running inside a worker process shares: the engine and a Redis client.

Made on first use and dropped after a fork, so each prefork pool process opens its own
connections instead of sharing sockets inherited from its parent.
"""

from functools import lru_cache

from redis import Redis
from sqlalchemy import Engine

from dashboard.db import engine_for
from dashboard.events import append_progress, append_task
from dashboard.models import TaskView
from dashboard.settings import get_settings


@lru_cache
def engine() -> Engine:
    return engine_for(get_settings())


@lru_cache
def redis() -> Redis:
    return Redis.from_url(get_settings().effective_redis_url, health_check_interval=30)


def reset_after_fork() -> None:
    engine.cache_clear()
    redis.cache_clear()


def publish_task(view: TaskView) -> str:
    return append_task(redis(), view, max_length=get_settings().event_log_length)


def publish_progress(view: TaskView) -> str | None:
    return append_progress(redis(), view, max_length=get_settings().event_log_length)
