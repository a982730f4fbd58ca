"""Refuses logins from an address after repeated failures, for a while.

The count lives in Redis, so every web process (and replica) sees the same one. It starts
with the first failure and expires a window later; once it reaches the limit, logins from
that address are refused until it expires, with the time left in the message. If Redis is
unreachable the throttle steps aside: logging in matters more than counting.

A login that succeeds forgives only the failures against its own account: someone who
mistyped their password starts again from nothing, but guesses at another account stay
counted. (Forgiving them all let anyone with an account of their own guess without limit:
four guesses, one login of theirs, and again.)
"""

import hashlib
import logging
from dataclasses import dataclass

from redis import Redis
from redis.exceptions import RedisError

from dashboard.accounts.users import normalize_email

log = logging.getLogger(__name__)
KEY_PREFIX = "dashboard:login-failures:"
# Takes the failures against one account off its address's count, in one step so that two
# logins at once cannot take them off twice; a count that reaches 0 goes.
FORGIVE_SCRIPT = """
local mine = tonumber(redis.call('GET', KEYS[2]) or '0')
redis.call('DEL', KEYS[2])
if mine > 0 and redis.call('EXISTS', KEYS[1]) == 1 then
  if redis.call('DECRBY', KEYS[1], mine) <= 0 then redis.call('DEL', KEYS[1]) end
end
return mine
"""


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

    def record_failure(self, address: str, email: str) -> None:
        try:
            pipe = self.redis.pipeline()
            for key in (KEY_PREFIX + address, _account_key(address, email)):
                # The window starts at the first failure and is not extended by later ones.
                pipe.set(key, 0, ex=self.window_seconds, nx=True)
                pipe.incr(key)
            pipe.execute()
        except RedisError as error:
            log.warning("login throttle unavailable: %s", error)

    def forgive(self, address: str, email: str) -> None:
        """After a login to this account: its failures from this address no longer count."""
        keys = [KEY_PREFIX + address, _account_key(address, email)]
        try:
            self.redis.eval(FORGIVE_SCRIPT, len(keys), *keys)
        except RedisError as error:
            log.warning("login throttle unavailable: %s", error)

    def _read(self, address: str) -> tuple[int, int]:
        key = KEY_PREFIX + address
        pipe = self.redis.pipeline()
        pipe.get(key)
        pipe.ttl(key)
        raw, ttl = pipe.execute()
        return int(raw or 0), int(ttl)


def _account_key(address: str, email: str) -> str:
    # A digest: what was typed as an e-mail may be anything, of any length.
    digest = hashlib.sha256(normalize_email(email).encode()).hexdigest()[:32]
    return f"{KEY_PREFIX}{address}|{digest}"


def describe_wait(seconds: int) -> str:
    minutes = -(-seconds // 60)
    return f"{minutes} minute{'s' if minutes != 1 else ''}" if seconds >= 60 else f"{seconds} s"
