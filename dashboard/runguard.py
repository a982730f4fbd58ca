"""One run of a task at a time, and a heartbeat from every run.

Why: a message can reach a worker twice (handed back after a crash that the old run may not
have died of, or restored by a sweep), and a task must never run twice at the same time.
Each run first claims `dashboard:run:<task id>` in Redis (SET NX with a short expiry). A
thread in the pool process renews the claims it holds every RENEW_SECONDS and stamps each
task's heartbeat, which `dashboard.reaper` reads to close tasks whose worker is gone.

A second delivery waits for the claim. A holder that died lets it lapse within CLAIM_SECONDS;
a holder in this process space (this boot of this host, this PID namespace) whose process is
gone is known dead at once and its claim is taken over. A live holder keeps renewing, so the
duplicate gives up and the live run records the end.

A pid means something only in its own PID namespace: containers that share a hostname (host
networking) each have their own, where another's pid is not found. Judging a holder there
dead ran a task twice at once (a scale-out probe did it), so the space is part of the token.

A run that was frozen longer than its claim lasts (a stopped process, a machine that slept)
may find, when it wakes, that another run took the lapsed claim. It is then `superseded`: the
task stops it at its next progress report, and the other run records the end.
"""

import hashlib
import json
import logging
import os
import socket
import threading
import time
import uuid
from pathlib import Path

import psutil
from redis import Redis
from redis.exceptions import RedisError

from dashboard import runtime

log = logging.getLogger(__name__)

CLAIM_SECONDS = 10
RENEW_SECONDS = 2
WAIT_POLL_SECONDS = 0.25
HEARTBEATS_KEY = "dashboard:task-heartbeats"
HOST = socket.gethostname()


def _process_space() -> str:
    """Names where a pid means one process: this boot of this host, this PID namespace."""
    parts = [HOST]
    try:  # Linux; elsewhere the hostname alone, as before
        parts.append(Path("/proc/sys/kernel/random/boot_id").read_text().strip())
        parts.append(os.readlink("/proc/self/ns/pid"))  # "pid:[4026531836]"
    except OSError:
        pass
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:16]


PROCESS_SPACE = _process_space()

# Claim and stamp the heartbeat in one round trip: they are the price every run pays.
_CLAIM = "if redis.call('set', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then redis.call('hset', KEYS[2], ARGV[3], ARGV[4]) return 1 end return 0"  # noqa: E501
# Renew a claim and stamp its heartbeat only while the claim is still ours, or take it again
# when it lapsed with nobody else taking it (Redis away for longer than the claim lasts): 1
# renewed, 2 taken again, 0 someone else's. An expired claim may be another run's.
_RENEW = "local holder = redis.call('get', KEYS[1]) if holder == ARGV[1] then redis.call('pexpire', KEYS[1], ARGV[2]) elseif not holder then redis.call('set', KEYS[1], ARGV[1], 'PX', ARGV[2]) else return 0 end redis.call('hset', KEYS[2], ARGV[3], ARGV[4]) if holder then return 1 end return 2"  # noqa: E501
RETAKEN = 2
# Dropping the claim also drops the heartbeat, in the same round trip.
_RELEASE = "if redis.call('get', KEYS[1]) == ARGV[1] then redis.call('del', KEYS[1]) end return redis.call('hdel', KEYS[2], ARGV[2])"  # noqa: E501
_TAKE_OVER = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('set', KEYS[1], ARGV[2], 'PX', ARGV[3]) else return false end"  # noqa: E501


def claim_key(task_id: str) -> str:
    return f"dashboard:run:{task_id}"


def new_token() -> str:
    """Names the holder: its process space and pid let a claimant in the same space see that
    it is dead."""
    return f"{PROCESS_SPACE}:{os.getpid()}:{uuid.uuid4().hex[:12]}"


def holder_is_dead(token: str) -> bool:
    """True only when certain: the holder ran in this process space and its process is gone."""
    parts = token.split(":")
    if len(parts) != 3 or parts[0] != PROCESS_SPACE or not parts[1].isdigit():
        return False
    try:
        # A killed pool process stays a zombie until its parent reaps it: dead all the same.
        return psutil.Process(int(parts[1])).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True
    except psutil.Error:
        return False


def as_text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def heartbeat(worker: str, now: float | None = None) -> str:
    return json.dumps({"at": time.time() if now is None else now, "worker": worker})


def stamp_heartbeat(redis: Redis, task_id: str, worker: str, now: float | None = None) -> None:
    redis.hset(HEARTBEATS_KEY, task_id, heartbeat(worker, now))


class RunGuard:
    """The claims one process holds, renewed by its own thread while they are held."""

    def __init__(self, redis: Redis | None = None) -> None:
        self._redis = redis
        self._held: dict[str, tuple[str, str]] = {}  # task id -> (token, worker)
        self._superseded: set[str] = set()  # held here, but another run holds the claim now
        self._lock = threading.Lock()
        self._renewer: threading.Thread | None = None
        self._pid = os.getpid()

    @property
    def redis(self) -> Redis:
        return self._redis or runtime.redis()

    def claim(self, task_id: str, worker: str, *, wait_seconds: float | None = None) -> bool:
        """Waits for the task's claim; False when a live run keeps holding it."""
        wait = CLAIM_SECONDS + RENEW_SECONDS if wait_seconds is None else wait_seconds
        token, deadline = new_token(), time.monotonic() + wait
        while not self._try_claim(task_id, token, worker):
            if time.monotonic() >= deadline:
                log.warning("task %s is running elsewhere; this delivery is dropped", task_id)
                return False
            time.sleep(WAIT_POLL_SECONDS)
        with self._lock:
            self._held[task_id] = (token, worker)
            self._ensure_renewer()
        return True

    def _try_claim(self, task_id: str, token: str, worker: str) -> bool:
        """Claims and stamps the heartbeat; or takes over from a holder known to be dead."""
        key, expiry_ms = claim_key(task_id), CLAIM_SECONDS * 1000
        beat = heartbeat(worker)
        if self.redis.eval(_CLAIM, 2, key, HEARTBEATS_KEY, token, expiry_ms, task_id, beat):
            return True
        holder = self.redis.get(key)
        if holder is None or not holder_is_dead(as_text(holder)):
            return False
        log.warning("task %s: its last run's process is gone; running it now", task_id)
        if not self.redis.eval(_TAKE_OVER, 1, key, holder, token, expiry_ms):
            return False
        stamp_heartbeat(self.redis, task_id, worker)
        return True

    def release(self, task_id: str) -> None:
        """Drops the claim and the heartbeat, if this process holds them."""
        with self._lock:  # forgotten first, so the renewer leaves it alone from now on
            held = self._held.pop(task_id, None)
            self._superseded.discard(task_id)
        if held is None:
            return
        try:
            self.redis.eval(_RELEASE, 2, claim_key(task_id), HEARTBEATS_KEY, held[0], task_id)
        except RedisError:
            with self._lock:  # still held, so a failed release is retried
                self._held.setdefault(task_id, held)
            raise

    def superseded(self, task_id: str) -> bool:
        """Whether another run took this run's claim while it was frozen: it is to stop."""
        with self._lock:
            return task_id in self._superseded

    def holds(self, task_id: str) -> bool:
        with self._lock:
            return task_id in self._held

    def renew_all(self) -> None:
        with self._lock:
            held = list(self._held.items())
        for task_id, (token, worker) in held:
            self._renew(task_id, token, worker)

    def _renew(self, task_id: str, token: str, worker: str) -> None:
        key, expiry_ms = claim_key(task_id), CLAIM_SECONDS * 1000
        # Under the lock, so a release waits: a claim let go of is never taken again here.
        with self._lock:
            if self._held.get(task_id) != (token, worker):
                return  # released since the list was taken: the task ended meanwhile
            beat = heartbeat(worker)
            kept = self.redis.eval(_RENEW, 2, key, HEARTBEATS_KEY, token, expiry_ms, task_id, beat)
        if kept == RETAKEN:
            log.warning("task %s: its claim had lapsed (Redis away?); taken again", task_id)
        elif not kept:
            log.error("task %s: another run took its lapsed claim; this run stops", task_id)
            with self._lock:
                if task_id in self._held:
                    self._superseded.add(task_id)

    def _ensure_renewer(self) -> None:
        """Called under the lock. A thread does not survive a fork: a pool process starts its
        own; and it stops when nothing is held, so an idle process has no thread."""
        if self._renewer is not None and self._pid == os.getpid():
            return
        self._pid = os.getpid()
        self._renewer = threading.Thread(target=self._renew_loop, name="run-claims", daemon=True)
        self._renewer.start()

    def _renew_loop(self) -> None:
        while True:
            time.sleep(RENEW_SECONDS)
            with self._lock:
                if not self._held:
                    self._renewer = None
                    return
            try:
                self.renew_all()
            except RedisError as error:  # Redis away: try again; the claim outlives a blip
                log.warning("could not renew task claims: %s", error)


guard = RunGuard()
