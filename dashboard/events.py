"""The event log: a Redis Stream that every process appends to and every web process reads.

No FastAPI here, so the worker uses it too. Stream entry ids double as SSE event ids, which
is what lets a reconnecting browser say where it stopped (Last-Event-ID) and be sent exactly
what it missed. The stream is capped (approximately, which is cheap for Redis) at the
configured length: a client that was away for longer than that window gets a fresh snapshot.
"""

import json
import re
from dataclasses import dataclass, field
from typing import Any

from redis import Redis
from redis.asyncio import Redis as AsyncRedis
from redis.client import Pipeline

from dashboard.models import FINAL_STATES, TaskState, TaskView

STREAM_KEY = "dashboard:events"
FINAL_STATE_NAMES = frozenset(state.value for state in FINAL_STATES)
# A task ended by someone other than its run (cancelled; closed as LOST) is marked for as long
# as the run may outlive that, and the run's progress ticks still on their way are then not
# logged after the final state (a probe's /api/events showed REVOKED, then PROGRESS 100 %).
ENDED_ELSEWHERE = frozenset({TaskState.REVOKED, TaskState.LOST})
ENDED_MARK_SECONDS = 2 * 3600
_APPEND_PROGRESS = """
if redis.call('exists', KEYS[2]) == 1 then return false end
return redis.call('xadd', KEYS[1], 'MAXLEN', '~', ARGV[1], '*',
                  'type', ARGV[2], 'owner', ARGV[3], 'data', ARGV[4])
"""


class EventType:
    TASK = "task"
    HOST = "host"
    FLEET = "fleet"
    # A login ended (logout, a revoked token): every web process ends the streams opened with
    # it. For the web processes only; no stream shows it.
    LOGIN_ENDED = "login-ended"


@dataclass(frozen=True)
class Audience:
    """Who a stream is for: one user's events, or everyone's (an admin's "all users" view)."""

    user_id: int
    everyone: bool = False


@dataclass(frozen=True)
class Event:
    type: str
    data: dict[str, Any]
    owner_id: int | None = None
    # The stream entry id; None for events that never enter the log (host gauges).
    id: str | None = None
    public: bool = field(default=False)

    def visible_to(self, audience: Audience) -> bool:
        if self.type == EventType.LOGIN_ENDED:
            return False
        return self.public or audience.everyone or self.owner_id == audience.user_id

    def is_own_ending(self, audience: Audience) -> bool:
        """A task of this audience's own user reached its final state: worth a toast."""
        return (
            self.type == EventType.TASK
            and self.owner_id == audience.user_id
            and self.data.get("state") in FINAL_STATE_NAMES
        )


def append_event(redis: Redis, event: Event, *, max_length: int) -> str:
    return _text(_xadd(redis, event, max_length))


def add_login_ended(pipe: Pipeline, login: str, *, max_length: int) -> None:
    """Queues, on a pipeline the caller executes, the news for every web process that this
    login has ended (Viewer.login)."""
    _xadd(pipe, Event(type=EventType.LOGIN_ENDED, data={"login": login}), max_length)


def append_task(redis: Redis, view: TaskView, *, max_length: int) -> str:
    """Appends a task's current view, visible to its owner."""
    if view.state not in ENDED_ELSEWHERE:
        return append_event(redis, _task_event(view), max_length=max_length)
    with redis.pipeline(transaction=True) as pipe:  # the event and its mark together
        add_task(pipe, view, max_length=max_length)
        return _text(pipe.execute()[0])


def add_task(pipe: Pipeline, view: TaskView, *, max_length: int) -> None:
    """Queues the append of a task's view on a pipeline the caller executes."""
    _xadd(pipe, _task_event(view), max_length)
    if view.state in ENDED_ELSEWHERE:
        pipe.set(ended_key(view.id), 1, ex=ENDED_MARK_SECONDS)


def append_progress(redis: Redis, view: TaskView, *, max_length: int) -> str | None:
    """Appends a running task's progress, unless it has been ended elsewhere meanwhile."""
    fields = _fields(_task_event(view))
    keys_and_args: list[str | int] = [STREAM_KEY, ended_key(view.id), max_length]
    entry = redis.eval(_APPEND_PROGRESS, 2, *keys_and_args, *fields.values())
    return None if entry is None else _text(entry)


def ended_key(task_id: str) -> str:
    return f"dashboard:ended:{task_id}"


def _xadd(client: Redis | Pipeline, event: Event, max_length: int) -> Any:
    """The entry's id from a client; from a pipeline, the pipeline (the id comes on execute)."""
    fields = _fields(event)
    return client.xadd(STREAM_KEY, fields, maxlen=max_length, approximate=True)  # type: ignore[arg-type]


def _task_event(view: TaskView) -> Event:
    return Event(type=EventType.TASK, data=view.model_dump(mode="json"), owner_id=view.owner_id)


def _fields(event: Event) -> dict[str, str]:
    owner = "" if event.owner_id is None else str(event.owner_id)
    return {"type": event.type, "owner": owner, "data": json.dumps(event.data, default=str)}


def parse_entry(entry_id: bytes | str, fields: dict[Any, Any]) -> Event:
    values = {_text(key): _text(value) for key, value in fields.items()}
    owner = values.get("owner") or None
    return Event(
        type=values["type"],
        data=json.loads(values["data"]),
        owner_id=int(owner) if owner else None,
        id=_text(entry_id),
    )


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


# What Redis takes as a stream id: "ms-seq" or "ms", each part an unsigned 64-bit number.
# Python's int() would also take "1_0", " 10", "10-" and numbers of any size: given as a
# Last-Event-ID, Redis would refuse them in the middle of a stream.
_ID_PATTERN = re.compile(r"([0-9]{1,20})(?:-([0-9]{1,20}))?")
_ID_PART_LIMIT = 2**64


def id_key(entry_id: str) -> tuple[int, int]:
    """Orders stream ids numerically ("10-0" comes after "9-5"); raises ValueError if malformed."""
    match = _ID_PATTERN.fullmatch(entry_id)
    if match is None:
        raise ValueError(f"not a stream id: {entry_id!r}")
    milliseconds, sequence = int(match[1]), int(match[2] or 0)
    if milliseconds >= _ID_PART_LIMIT or sequence >= _ID_PART_LIMIT:
        raise ValueError(f"a stream id part past 64 bits: {entry_id!r}")
    return milliseconds, sequence


def is_valid_id(entry_id: str) -> bool:
    try:
        id_key(entry_id)
    except ValueError:
        return False
    return True


# redis-py types its replies for both protocols at once; these are RESP2 replies:
# XRANGE gives [(id, fields), ...] and XREAD gives [[stream, [(id, fields), ...]], ...].
async def last_id(redis: AsyncRedis) -> str:
    """The id of the newest entry, or "0-0" for an empty log."""
    entries: Any = await redis.xrevrange(STREAM_KEY, count=1)
    return _text(entries[0][0]) if entries else "0-0"


async def first_id(redis: AsyncRedis) -> str | None:
    entries: Any = await redis.xrange(STREAM_KEY, count=1)
    return _text(entries[0][0]) if entries else None


async def read_after(redis: AsyncRedis, after_id: str, *, count: int = 1000) -> list[Event]:
    """Entries strictly after `after_id`, oldest first, at most `count` of them."""
    entries: Any = await redis.xrange(STREAM_KEY, min=f"({after_id}", count=count)
    return [parse_entry(entry_id, fields) for entry_id, fields in entries]


async def wait_after(redis: AsyncRedis, after_id: str, *, block_ms: int) -> list[Event]:
    """Blocks until entries after `after_id` arrive (or the timeout passes)."""
    reply: Any = await redis.xread({STREAM_KEY: after_id}, block=block_ms, count=500)
    return [parse_entry(entry_id, fields) for _, entries in reply for entry_id, fields in entries]


async def can_resume_from(redis: AsyncRedis, after_id: str) -> bool:
    """True when every entry after `after_id` is still in the log (none trimmed away)."""
    if not is_valid_id(after_id):
        return False
    oldest, newest = await first_id(redis), await last_id(redis)
    if oldest is None:
        return False
    return id_key(oldest) <= id_key(after_id) <= id_key(newest)
