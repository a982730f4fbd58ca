"""Refuses logins from an address after repeated failures, for a while.

The count lives in Redis, so every web process (and replica) sees the same one. It starts
with the first failure and expires a window later; once it reaches the limit, logins from
that address are refused until it expires, with the time left in the message. If Redis is
unreachable the throttle steps aside: logging in matters more than counting.
"""

import logging
from dataclasses import dataclass

from redis import Redis
from redis.exceptions import RedisError

log = logging.getLogger(__name__)
KEY_PREFIX = "dashboard:login-failures:"


@dataclass(frozen=True)
class LoginThrottle:
    redis: Redis
    max_failures: int
    window_seconds: int

    def seconds_refused(self, address: str) -> int:
        """How long logins from this address are still refused; 0 when they are not."""
        try:
            count, ttl = self._read(address)
        except RedisError as error:
            log.warning("login throttle unavailable: %s", error)
            return 0
        return max(ttl, 1) if count >= self.max_failures else 0

    def record_failure(self, address: str) -> None:
        key = KEY_PREFIX + address
        try:
            pipe = self.redis.pipeline()
            # The window starts at the first failure and is not extended by later ones.
            pipe.set(key, 0, ex=self.window_seconds, nx=True)
            pipe.incr(key)
            pipe.execute()
        except RedisError as error:
            log.warning("login throttle unavailable: %s", error)

    def clear(self, address: str) -> None:
        try:
            self.redis.delete(KEY_PREFIX + address)
        except RedisError as error:
            log.warning("login throttle unavailable: %s", error)

    def _read(self, address: str) -> tuple[int, int]:
        key = KEY_PREFIX + address
        pipe = self.redis.pipeline()
        pipe.get(key)
        pipe.ttl(key)
        raw, ttl = pipe.execute()
        return int(raw or 0), int(ttl)


def describe_wait(seconds: int) -> str:
    minutes = -(-seconds // 60)
    return f"{minutes} minute{'s' if minutes != 1 else ''}" if seconds >= 60 else f"{seconds} s"
