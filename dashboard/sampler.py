"""The host sampler: one background loop per process, about once a second, never per client.

It keeps the last five minutes of CPU and memory figures for the page's chart and hands each
sample to the hub, which sends it to every connected page.
"""

import asyncio
import logging
from collections import deque
from collections.abc import Callable

from pydantic import BaseModel

from dashboard.events import Event, EventType
from dashboard.hoststats import HostSnapshot, sample_host

log = logging.getLogger(__name__)
HISTORY_SECONDS = 300


class HistoryPoint(BaseModel):
    t: float  # seconds since the epoch, as the chart wants them
    cpu: float
    memory: float


class HostSampler:
    def __init__(
        self,
        publish: Callable[[Event], object],
        *,
        interval: float = 1.0,
        sample: Callable[[], HostSnapshot] = sample_host,
    ) -> None:
        self._publish = publish
        self._interval = interval
        self._sample = sample
        self.latest: HostSnapshot | None = None
        self.history: deque[HistoryPoint] = deque(maxlen=round(HISTORY_SECONDS / interval))

    def take(self) -> HostSnapshot:
        return self.record(self._sample())

    def record(self, snapshot: HostSnapshot) -> HostSnapshot:
        """Keeps the sample and publishes it; called on the event loop, which owns the hub."""
        self.latest = snapshot
        self.history.append(
            HistoryPoint(
                t=snapshot.taken_at.timestamp(),
                cpu=snapshot.cpu.overall,
                memory=snapshot.memory.percent,
            )
        )
        self._publish(
            Event(type=EventType.HOST, data=snapshot.model_dump(mode="json"), public=True)
        )
        return snapshot

    async def run(self) -> None:
        """Samples in a thread (psutil reads files and may block), publishes on the loop (the
        hub's queues are not thread-safe), on a fixed cadence however long a sample takes."""
        loop = asyncio.get_running_loop()
        next_at = loop.time()
        while True:
            try:
                self.record(await asyncio.to_thread(self._sample))
            except Exception:  # one bad sample (a vanished mount) must not stop the gauges
                log.exception("host sample failed")
            # A loop held up for longer than an interval starts afresh rather than catch up.
            next_at = max(next_at + self._interval, loop.time())
            await asyncio.sleep(next_at - loop.time())
