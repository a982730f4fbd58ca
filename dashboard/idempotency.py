"""Idempotency keys for starting tasks through the API.

A client whose start timed out, or whose connection dropped before the answer, cannot tell
whether the task was started. Sent again with the same `Idempotency-Key` header, the start
answers with the task the first request started instead of starting a second one.

After the IETF httpapi draft "The Idempotency-Key HTTP Header Field" (and Stripe's API, which
it describes): a key is the client's, one per start it means once, and is kept per user for a
day. The same key with a different request is refused (422), and so is a repeat that arrives
while the first request is still being answered (409: ask again in a moment).
"""

import hashlib
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from redis import Redis

HEADER = "Idempotency-Key"
MAX_LENGTH = 255
# Printable ASCII, as the draft's key is a structured-field string.
PATTERN = r"^[\x20-\x7e]+$"
KEEP_SECONDS = 24 * 3600
# How long a key is held while its first request is answered: a web process that dies in
# that time leaves the key usable again afterwards, rather than refused for a day.
ANSWERING_SECONDS = 60
PREFIX = "idempotency:"


class KeyReused(ValueError):
    """The key was sent before with a different request."""


class KeyInUse(RuntimeError):
    """The first request with this key is still being answered."""


@dataclass(frozen=True)
class Started:
    task_id: str
    replayed: bool  # True: an earlier request with the same key started it


@dataclass(frozen=True)
class Record:
    task_id: str
    request: str  # a digest of what was asked
    answered: bool

    def dumps(self) -> str:
        return json.dumps([self.task_id, self.request, self.answered])

    @classmethod
    def loads(cls, text: str | bytes) -> "Record":
        task_id, request, answered = json.loads(text)
        return cls(task_id, request, answered)


def digest(request: Any) -> str:
    """What makes two requests the same: what they ask for, in any key order."""
    text = json.dumps(request, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def start_once(
    redis: Redis, user_id: int, key: str | None, request: Any, start: Callable[[str], str]
) -> Started:
    """Runs `start(task_id)` (which returns the id of the task it started) unless this user's
    earlier request with `key` did. Without a key, every request starts a task."""
    if key is None:
        return Started(start(str(uuid.uuid4())), replayed=False)
    name = _name(user_id, key)
    asked = digest(request)
    fresh = Record(str(uuid.uuid4()), asked, answered=False)
    if not redis.set(name, fresh.dumps(), nx=True, ex=ANSWERING_SECONDS):
        return Started(_earlier(redis, name, asked).task_id, replayed=True)
    try:
        task_id = start(fresh.task_id)
    except BaseException:
        # Nothing was queued (a refused start's row says so): the same key may try again.
        redis.delete(name)
        raise
    redis.set(name, Record(task_id, asked, answered=True).dumps(), ex=KEEP_SECONDS)
    return Started(task_id, replayed=False)


def _earlier(redis: Redis, name: str, asked: str) -> Record:
    text = redis.get(name)
    if text is None:  # it lapsed a moment ago: its request died unanswered
        raise KeyInUse("the request with this key ended unanswered; send it again")
    record = Record.loads(text)
    if record.request != asked:
        raise KeyReused(f"this {HEADER} was used for a different request")
    if not record.answered:
        raise KeyInUse(f"a request with this {HEADER} is still being answered")
    return record


def _name(user_id: int, key: str) -> str:
    # Hashed: the key is the client's text, up to MAX_LENGTH characters of it.
    return f"{PREFIX}{user_id}:{hashlib.sha256(key.encode()).hexdigest()}"
