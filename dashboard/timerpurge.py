"""Drops cancelled entries from the worker's timer, which kombu keeps until they are due.

Each task the prefork pool runs gets a timer entry for its hard time limit (task_time_limit,
over an hour). A task that ends cancels its entry, but kombu's timer is a heap that deletes
lazily: the cancelled entry, with what it holds, stays until its time comes. At 150 tasks a
second that is half a million entries, and the worker's main process grew by about 0.6 MB per
thousand tasks (bench/memory.py: +17.8% after 100,000 tasks). Every PURGE_SECONDS the worker's
own event loop rebuilds the heap without them; no other thread touches the timer.
"""

import heapq
import logging
from typing import Any

from celery.signals import worker_ready

log = logging.getLogger(__name__)
PURGE_SECONDS = 30


def drop_cancelled(timer: Any) -> int:
    """Rebuilds the timer's heap without its cancelled entries; returns how many went."""
    queue = timer._queue  # kombu's own heap of (eta, priority, entry)
    live = [item for item in queue if not item.entry.canceled]
    dropped = len(queue) - len(live)
    if dropped:
        heapq.heapify(live)
        queue[:] = live  # in place: the timer holds this very list
    return dropped


@worker_ready.connect
def _purge_regularly(sender: Any, **_: Any) -> None:
    hub = getattr(sender, "hub", None)
    if hub is None:  # a pool without an event loop (solo, threads) keeps no such entries
        return
    hub.call_repeatedly(PURGE_SECONDS, drop_cancelled, hub.timer)
