"""A login that ends (logout, a revoked token) ends the event streams opened with it too.

The row is gone at once, so every new request is refused; but a stream was let in once, when
it opened. The end goes into the event log, which every web process reads, so the streams
end on every replica (dashboard.hub.EventHub.end_login). If Redis is away the logout still
happens, and its streams end when their connection next drops.
"""

import logging
from collections.abc import Iterable

from redis import Redis
from redis.exceptions import RedisError

from dashboard import events
from dashboard.services import Services

log = logging.getLogger(__name__)


def announce(services: Services, *logins: str) -> None:
    announce_to(services.redis, logins, max_length=services.settings.event_log_length)


def announce_to(redis: Redis, logins: Iterable[str], *, max_length: int) -> bool:
    """Every login's end in one round trip (a password change ends them all); False when
    Redis did not take them."""
    try:
        with redis.pipeline(transaction=False) as pipe:
            for login in logins:
                events.add_login_ended(pipe, login, max_length=max_length)
            pipe.execute()
    except RedisError as error:
        log.warning("could not end the streams of a login that ended: %s", error)
        return False
    return True
