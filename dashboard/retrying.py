"""Retries a write through a brief outage of the database or of Redis, so a task's state and
its events are never lost to one.

The worker records a task's start and end and publishes its events; if the database or Redis
does not answer at that moment, the write is tried again with growing pauses for up to
DB_RETRY_SECONDS before it gives up (and logs it). Holding the pool process that long is
the lesser evil: a lost final state would leave the task active for ever.
"""

import logging
import time
from collections.abc import Callable
from typing import TypeVar

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError as RedisResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError
from sqlalchemy.exc import InterfaceError, OperationalError

from dashboard.settings import get_settings

log = logging.getLogger(__name__)
T = TypeVar("T")
# Errors of reaching the server (refused, dropped, locked), not of the statement itself.
DATABASE_UNREACHABLE: tuple[type[Exception], ...] = (OperationalError, InterfaceError)
REDIS_UNREACHABLE: tuple[type[Exception], ...] = (RedisConnectionError, RedisTimeoutError)
# Reached, but refusing writes: its disk full (MISCONF), out of memory (OOM), a read-only
# replica. Not retried: it lasts until someone acts.
REDIS_REFUSING: tuple[type[Exception], ...] = (RedisResponseError,)
# Either: what a write that may be dropped (a progress tick) is let go for.
REDIS_NOT_WRITTEN: tuple[type[Exception], ...] = (*REDIS_UNREACHABLE, *REDIS_REFUSING)
FIRST_PAUSE = 0.2
LONGEST_PAUSE = 5.0


def with_retries(
    write: Callable[[], T],
    *,
    what: str,
    give_up_after: float,
    errors: tuple[type[Exception], ...] = DATABASE_UNREACHABLE,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> T:
    started, pause = clock(), FIRST_PAUSE
    while True:
        try:
            return write()
        except errors as error:
            if clock() - started + pause > give_up_after:
                log.error("unreachable while %s; giving up: %s", what, error)
                raise
            log.warning("unreachable while %s (%s); retrying in %.1f s", what, error, pause)
            sleep(pause)
            pause = min(pause * 2, LONGEST_PAUSE)


def through_database_outages(write: Callable[[], T], what: str) -> T:
    """A database that is briefly away delays the record; it does not lose it."""
    return with_retries(write, what=what, give_up_after=get_settings().db_retry_seconds)


def through_redis_outages(write: Callable[[], T], what: str) -> T:
    """A Redis that is briefly away (a restart) delays an event or a claim; it does not lose
    it, nor fail the task."""
    return with_retries(
        write, what=what, give_up_after=get_settings().db_retry_seconds, errors=REDIS_UNREACHABLE
    )
