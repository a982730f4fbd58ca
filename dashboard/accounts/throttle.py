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

Each account also has a limit of its own, whatever the address (NIST SP 800-63B, 5.2.2: at most
100 failed attempts in a row): someone with many addresses, or a process on the web's own host
naming any address in X-Forwarded-For, is held to it too. A login that succeeds ends the run.
Past it, the account is refused from everywhere until the window ends; that a stranger can
hold an account shut that way is the price of the cap, which is set high for that reason.
Unknown addresses are counted alike, so the refusal says nothing about who has an account.
"""

import hashlib
import logging
from dataclasses import dataclass

from redis import Redis
from redis.exceptions import RedisError

from dashboard.accounts.users import normalize_email

log = logging.getLogger(__name__)
KEY_PREFIX = "dashboard:login-failures:"
ACCOUNT_KEY_PREFIX = "dashboard:account-failures:"
FROM_ADDRESS = "from your address"
TO_ACCOUNT = "to this account"
REGISTRATION_KEY_PREFIX = "dashboard:registrations:"
# Counts an attempt on each key in turn (ARGV: the window, then each key's limit, 0 for none),
# stopping at the first that is past its limit: an attempt its address may not make does not
# count against the account, or anyone could shut an account from one address. One step, so
# attempts sent all at once cannot all read a count from before any of them.
TAKE_SCRIPT = """
for i, key in ipairs(KEYS) do
  redis.call('SET', key, 0, 'EX', ARGV[1], 'NX')
  local limit = tonumber(ARGV[i + 1])
  if redis.call('INCR', key) > limit and limit > 0 then
    return {i, redis.call('TTL', key)}
  end
end
return {0, 0}
"""
# Takes the failures against one account off its address's count, in one step so that two
# logins at once cannot take them off twice; a count that reaches 0 goes. The account's own run
# of failures ends too (KEYS[3]).
FORGIVE_SCRIPT = """
local mine = tonumber(redis.call('GET', KEYS[2]) or '0')
redis.call('DEL', KEYS[2], KEYS[3])
if mine > 0 and redis.call('EXISTS', KEYS[1]) == 1 then
  if redis.call('DECRBY', KEYS[1], mine) <= 0 then redis.call('DEL', KEYS[1]) end
end
return mine
"""


@dataclass(frozen=True)
class Refusal:
    """Why an attempt is refused ("from your address", "to this account"), and for how long."""

    seconds: int
    source: str


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
        refusal = self._take([(self.prefix + address, self.limit, FROM_ADDRESS)])
        return refusal.seconds if refusal else 0

    def _take(self, counts: list[tuple[str, int, str]]) -> Refusal | None:
        """Counts an attempt on each key up to the first past its limit (0: none, the key is
        kept only to be forgiven); refused by that one, for the time left on it."""
        keys = [key for key, _, _ in counts]
        limits = [limit for _, limit, _ in counts]
        try:
            past, ttl = self.redis.eval(TAKE_SCRIPT, len(keys), *keys, self.window_seconds, *limits)
        except RedisError as error:
            log.warning("%s limit unavailable: %s", self.prefix, error)
            return None
        if not past:
            return None
        return Refusal(max(int(ttl), 1), counts[int(past) - 1][2])


@dataclass(frozen=True)
class LoginThrottle(AddressLimit):
    """Counts logins per address, per address and account, and per account; forgives those
    that succeed."""

    prefix: str = KEY_PREFIX
    account_limit: int = 100

    def attempt(self, address: str, email: str) -> Refusal | None:
        """Counts a login from this address to this account: None if it may go ahead, else
        why not and for how long. One that then succeeds is forgiven (`forgive`)."""
        counts = [
            (self.prefix + address, self.limit, FROM_ADDRESS),
            (_account_key(address, email), 0, FROM_ADDRESS),
            (account_failures_key(email), self.account_limit, TO_ACCOUNT),
        ]
        refusal = self._take(counts)
        if refusal:
            limit = "its address's" if refusal.source == FROM_ADDRESS else "the account's"
            log.warning(
                "login from %s refused for %d s: past %s limit of failed logins",
                address,
                refusal.seconds,
                limit,
            )
        return refusal

    def failed(self, address: str, user_id: int | None) -> None:
        """Logged for an operator (fail2ban, an alert): the address, and the account if there
        is one, never what was typed (a password typed into the e-mail field, say)."""
        account = "an unknown account" if user_id is None else f"user {user_id}"
        log.info("failed login to %s from %s", account, address)

    def forgive(self, address: str, email: str) -> None:
        """After a login to this account: its attempts from this address no longer count, and
        its run of failures from anywhere has ended."""
        keys = [self.prefix + address, _account_key(address, email), account_failures_key(email)]
        try:
            self.redis.eval(FORGIVE_SCRIPT, len(keys), *keys)
        except RedisError as error:
            log.warning("login throttle unavailable: %s", error)


def _account_key(address: str, email: str) -> str:
    return f"{KEY_PREFIX}{address}|{_digest(email)}"


def account_failures_key(email: str) -> str:
    return ACCOUNT_KEY_PREFIX + _digest(email)


def _digest(email: str) -> str:
    # What was typed as an e-mail may be anything, of any length.
    return hashlib.sha256(normalize_email(email).encode()).hexdigest()[:32]


def describe_wait(seconds: int) -> str:
    minutes = -(-seconds // 60)
    return f"{minutes} minute{'s' if minutes != 1 else ''}" if seconds >= 60 else f"{seconds} s"
