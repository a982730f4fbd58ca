"""Refuses logins after repeated failures, and registrations after many, from an address.

Counts live in Redis, so every web process (and replica) sees the same ones. A count starts
with the first attempt and expires a window later; past the limit, the address is refused
until it expires, with the time left in the message. If Redis is unreachable the
limits step aside: logging in matters more than counting.

Registrations are counted whether they succeed or not: each one costs an argon2 hash (64 MiB),
and each "this e-mail has an account" tells a stranger something, so a flood of either is
held to a trickle. A form refused for a short password or a bad address is not counted.

Every login is counted as it is tried, and one that succeeds is forgiven: so the count is of
failures. A login that succeeds forgives only the failures against its own account: someone who
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
REGISTRATION_KEY_PREFIX = "dashboard:registrations:"
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
class AddressLimit:
    """At most `limit` attempts per address in a window that starts at the first of them.

    An attempt is counted before it is made, and refused if it is one too many: counting and
    reading the count in one step is what holds the limit against attempts sent all at once
    (checking first and counting after the slow argon2 hash let them all through)."""

    redis: Redis
    limit: int
    window_seconds: int
    prefix: str = REGISTRATION_KEY_PREFIX

    def take(self, address: str) -> int:
        """Counts an attempt from this address: 0 if it may go ahead, else the seconds left."""
        return self._take(self.prefix + address)

    def _take(self, key: str, *also: str) -> int:
        """Counts an attempt on `key` (and on `also`); refusal depends on `key` alone."""
        try:
            pipe = self.redis.pipeline()  # MULTI/EXEC: no other attempt comes in between
            for counted in (key, *also):
                # The window starts at the first attempt and is not extended by later ones.
                pipe.set(counted, 0, ex=self.window_seconds, nx=True)
                pipe.incr(counted)
            pipe.ttl(key)
            results = pipe.execute()
        except RedisError as error:
            log.warning("%s limit unavailable: %s", self.prefix, error)
            return 0
        count, ttl = int(results[1]), int(results[-1])
        return max(ttl, 1) if count > self.limit else 0


@dataclass(frozen=True)
class LoginThrottle(AddressLimit):
    """Counts logins per address, and per address and account, forgiving those that succeed."""

    prefix: str = KEY_PREFIX

    def attempt(self, address: str, email: str) -> int:
        """Counts a login from this address to this account: 0 if it may go ahead, else the
        seconds left. One that then succeeds is forgiven (`forgive`)."""
        return self._take(self.prefix + address, _account_key(address, email))

    def forgive(self, address: str, email: str) -> None:
        """After a login to this account: its attempts from this address no longer count."""
        keys = [self.prefix + address, _account_key(address, email)]
        try:
            self.redis.eval(FORGIVE_SCRIPT, len(keys), *keys)
        except RedisError as error:
            log.warning("login throttle unavailable: %s", error)


def _account_key(address: str, email: str) -> str:
    # A digest: what was typed as an e-mail may be anything, of any length.
    digest = hashlib.sha256(normalize_email(email).encode()).hexdigest()[:32]
    return f"{KEY_PREFIX}{address}|{digest}"


def describe_wait(seconds: int) -> str:
    minutes = -(-seconds // 60)
    return f"{minutes} minute{'s' if minutes != 1 else ''}" if seconds >= 60 else f"{seconds} s"
