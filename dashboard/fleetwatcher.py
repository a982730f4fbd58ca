"""The fleet watcher: one loop per web process reads the workers' reports, never per client.

Every couple of seconds it reads the fleet hash, keeps the result for the page and the API,
and hands it to the hub as a public `fleet` event for every connected page. The event does
not go into the event log: like the host gauges it is current state, and a page that
reconnects needs only the latest one.
"""

import asyncio
import logging
from collections.abc import Callable

from redis import Redis
from redis.exceptions import RedisError

from dashboard.events import Event, EventType
from dashboard.fleet import Fleet, check_fleet

log = logging.getLogger(__name__)
CHECK_SECONDS = 2.0


class FleetWatcher:
    def __init__(
        self, redis: Redis, publish: Callable[[Event], object], *, interval: float = CHECK_SECONDS
    ) -> None:
        self._redis = redis
        self._publish = publish
        self._interval = interval
        self.latest: Fleet | None = None

    def take(self) -> Fleet:
        fleet = check_fleet(self._redis)
        self.latest = fleet
        self._publish(Event(type=EventType.FLEET, data=fleet.model_dump(mode="json"), public=True))
        return fleet

    async def run(self) -> None:
        while True:
            try:
                await asyncio.to_thread(self.take)
            except (RedisError, OSError) as error:
                log.warning("fleet reports unreachable (%s); retrying", error)
            except Exception:  # one bad read must not stop the fleet view for good
                log.exception("reading the fleet failed")
            await asyncio.sleep(self._interval)
