"""The run claim that keeps two runs of one task apart, on a real Redis."""

import json
import logging
import subprocess
import sys
import time
from types import SimpleNamespace

import psutil
import pytest
from redis import Redis

from dashboard import lifecycle, runguard
from dashboard.runguard import HEARTBEATS_KEY, PROCESS_SPACE, RunGuard, claim_key


def dead_pid() -> int:
    """The pid of a process of this host that has ended and been reaped."""
    process = subprocess.Popen(["true"])
    process.wait()
    return process.pid


def test_a_second_run_waits_and_gives_up_while_the_first_holds_the_claim(redis: Redis) -> None:
    first, second = RunGuard(redis), RunGuard(redis)
    assert first.claim("t-1", "w1@host")
    assert not second.claim("t-1", "w2@host", wait_seconds=0.6)
    first.release("t-1")
    assert second.claim("t-1", "w2@host", wait_seconds=0.6)
    assert second.holds("t-1") and not first.holds("t-1")
    second.release("t-1")


def test_a_claim_whose_process_on_this_host_is_gone_is_taken_over_at_once(redis: Redis) -> None:
    redis.set(claim_key("t-1"), f"{PROCESS_SPACE}:{dead_pid()}:abcdef", px=60_000)
    started = time.monotonic()
    guard = RunGuard(redis)
    assert guard.claim("t-1", "w@host", wait_seconds=5)
    assert time.monotonic() - started < 5, "it waited for the expiry instead"
    assert redis.get(claim_key("t-1")).decode().startswith(f"{PROCESS_SPACE}:")  # type: ignore[union-attr]
    guard.release("t-1")


def test_a_claim_held_on_another_host_is_waited_for_until_it_lapses(redis: Redis) -> None:
    redis.set(claim_key("t-1"), f"elsewhere:{dead_pid()}:abcdef", px=400)
    guard = RunGuard(redis)
    assert not guard.claim("t-1", "w@host", wait_seconds=0)
    assert guard.claim("t-1", "w@host", wait_seconds=3)
    guard.release("t-1")


def test_renewing_extends_the_claim_and_stamps_the_heartbeat(redis: Redis) -> None:
    guard = RunGuard(redis)
    assert guard.claim("t-1", "w@host")
    redis.pexpire(claim_key("t-1"), 500)
    redis.hset(HEARTBEATS_KEY, "t-1", json.dumps({"at": 0, "worker": "w@host"}))
    guard.renew_all()
    assert redis.pttl(claim_key("t-1")) > 5_000
    beat = json.loads(redis.hget(HEARTBEATS_KEY, "t-1"))  # type: ignore[arg-type]
    assert beat["worker"] == "w@host" and time.time() - beat["at"] < 60
    guard.release("t-1")


def test_release_drops_only_a_claim_this_process_holds(redis: Redis) -> None:
    guard = RunGuard(redis)
    assert guard.claim("t-1", "w@host")
    redis.set(claim_key("t-1"), "someone-else")  # it lapsed and another run claimed it
    guard.release("t-1")
    assert redis.get(claim_key("t-1")) == b"someone-else"
    assert redis.hget(HEARTBEATS_KEY, "t-1") is None


def test_the_holder_is_dead_only_when_certain() -> None:
    assert runguard.holder_is_dead(f"{PROCESS_SPACE}:{dead_pid()}:x")
    assert not runguard.holder_is_dead(f"{PROCESS_SPACE}:1:x")  # init: alive
    assert not runguard.holder_is_dead(f"another-host:{dead_pid()}:x")
    assert not runguard.holder_is_dead("garbage")


def test_a_claim_released_while_the_renewer_runs_is_not_reported_or_stamped(
    redis: Redis, caplog: pytest.LogCaptureFixture
) -> None:
    """The renewer thread takes its list, the task ends and lets go, then the renewer reaches
    it: that is no lapse, and the ended task gets no heartbeat (QA saw false ERROR lines, and
    heartbeats of ended tasks left for the reaper)."""
    guard = RunGuard(redis)
    assert guard.claim("t-1", "w@host")
    ((task_id, (token, worker)),) = guard._held.items()  # the renewer's list
    guard.release("t-1")
    with caplog.at_level(logging.ERROR, logger="dashboard.runguard"):
        guard._renew(task_id, token, worker)
    assert caplog.records == []
    assert redis.hget(HEARTBEATS_KEY, "t-1") is None


def test_a_claim_that_lapsed_while_held_is_taken_again_and_stamped(
    redis: Redis, caplog: pytest.LogCaptureFixture
) -> None:
    """Redis away for longer than a claim lasts: the run goes on, so it takes its claim again
    (a probe saw "its claim lapsed" every 2 s after an outage, and nothing kept a second
    delivery from running beside it)."""
    guard = RunGuard(redis)
    assert guard.claim("t-1", "w@host")
    token = redis.get(claim_key("t-1"))
    redis.delete(claim_key("t-1"), HEARTBEATS_KEY)  # lapsed while Redis was away
    with caplog.at_level(logging.WARNING, logger="dashboard.runguard"):
        guard.renew_all()
    assert "taken again" in caplog.text
    assert redis.get(claim_key("t-1")) == token and redis.pttl(claim_key("t-1")) > 5_000
    assert redis.hget(HEARTBEATS_KEY, "t-1") is not None  # the reaper sees it running
    assert not RunGuard(redis).claim("t-1", "w2@host", wait_seconds=0)  # a second run waits
    guard.release("t-1")


def test_a_claim_another_run_took_is_left_to_it(
    redis: Redis, caplog: pytest.LogCaptureFixture
) -> None:
    guard = RunGuard(redis)
    assert guard.claim("t-1", "w@host")
    redis.set(claim_key("t-1"), "elsewhere:1:abc", px=60_000)
    redis.hset(HEARTBEATS_KEY, "t-1", json.dumps({"at": 1, "worker": "w2@elsewhere"}))
    with caplog.at_level(logging.ERROR, logger="dashboard.runguard"):
        guard.renew_all()
    assert "another run took its lapsed claim; this run stops" in caplog.text
    assert guard.superseded("t-1")
    assert redis.get(claim_key("t-1")) == b"elsewhere:1:abc"
    assert json.loads(redis.hget(HEARTBEATS_KEY, "t-1"))["worker"] == "w2@elsewhere"  # type: ignore[arg-type]
    guard.release("t-1")


def test_a_holder_in_another_pid_namespace_of_this_host_is_not_judged_dead() -> None:
    """Containers sharing a hostname (host networking) each have their own pids: a pid from
    another namespace, not found here, says nothing (judging it dead ran a task twice)."""
    inner = (
        "echo 3000000 > /proc/sys/kernel/ns_last_pid && "
        f"{sys.executable} -c 'from dashboard import runguard; print(runguard.new_token())'"
    )
    command = ["unshare", "--pid", "--fork", "--mount-proc", "sh", "-c", inner]
    try:
        made = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    except FileNotFoundError:
        pytest.skip("no unshare here")
    if made.returncode != 0:
        pytest.skip(f"no PID namespace for this user here: {made.stderr.strip()}")
    token = made.stdout.strip()
    space, pid, _ = token.split(":")
    assert int(pid) > 3_000_000 and not psutil.pid_exists(int(pid))  # no such pid out here
    assert space != PROCESS_SPACE
    assert not runguard.holder_is_dead(token)


def test_a_superseded_run_stops_at_its_next_progress_report(redis: Redis) -> None:
    guard = RunGuard(redis)
    assert guard.claim("t-1", "w@host")
    redis.set(claim_key("t-1"), "elsewhere:1:abc", px=60_000)  # a woken run finds it taken
    guard.renew_all()
    task = SimpleNamespace(request=SimpleNamespace(id="t-1"))
    original, runguard.guard = runguard.guard, guard
    try:
        with pytest.raises(lifecycle.RunSuperseded):
            lifecycle.report_progress(task, 50.0, "halfway")  # type: ignore[arg-type]
    finally:
        runguard.guard = original
    guard.release("t-1")
    assert not guard.superseded("t-1")
