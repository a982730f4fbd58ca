"""Retries a database write through a brief outage, so a task's state is never lost to one.

The worker records a task's start and end from Celery signals; if the database does not
answer at that moment, the write is tried again with growing pauses for up to
DB_RETRY_SECONDS before it gives up (and logs it). Holding the pool process that long is
the lesser evil: a lost final state would leave the task active in SQL for ever.
"""

import logging
import time
from collections.abc import Callable
from typing import TypeVar

from sqlalchemy.exc import InterfaceError, OperationalError

log = logging.getLogger(__name__)
T = TypeVar("T")
# Errors of reaching the database (refused, dropped, locked), not of the statement itself.
UNREACHABLE = (OperationalError, InterfaceError)
FIRST_PAUSE = 0.2
LONGEST_PAUSE = 5.0


def with_retries(
    write: Callable[[], T],
    *,
    what: str,
    give_up_after: float,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> T:
    started, pause = clock(), FIRST_PAUSE
    while True:
        try:
            return write()
        except UNREACHABLE as error:
            if clock() - started + pause > give_up_after:
                log.error("database unreachable while %s; giving up: %s", what, error)
                raise
            log.warning("database unreachable while %s; retrying in %.1f s", what, pause)
            sleep(pause)
            pause = min(pause * 2, LONGEST_PAUSE)
