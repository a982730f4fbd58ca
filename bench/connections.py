"""Connection capacity: many SSE clients on one web process, and connections that come and go.

Goal: 5,000 concurrent clients of `GET /api/events` on one web process (`python -m dashboard
web`, loopback, private Redis and SQLite) receiving host gauges every second: all kept, p99
delivery at most 250 ms, resident memory at most 30 KB per connection; and after 10,000
connect-and-disconnect cycles the process's memory back within 10% of its start.

The clients run in CLIENT_PROCESSES spawned processes (uvloop when installed), not in this
one, so the driver's own work is not in their way: each connection is a bare asyncio stream
with a hand-written HTTP/1.1 request, read a chunk at a time (one wake-up per event rather
than one per line) and split into lines, of which only `event:` and a host event's `data:`
are looked at. Each client process's CPU share is reported, to show it was not the limit.

Host events never enter the Redis event log, so they carry no SSE id; the time is the sample's
own `taken_at` (UTC, from the JSON data). Delivery latency is when a client parsed the event
minus `taken_at`, same machine clock; it includes the few milliseconds the sampler spends
taking the sample before publishing it. The sampler's interval is one second, fixed
(`HostSampler(interval=1.0)` in dashboard.app, no setting), on a fixed cadence; the period
seen is reported.

Two web processes, each measured from its own start: one holds the concurrent clients (its
RSS before any client is the baseline of the per-connection figure), the other takes the
cycles, so its start is not inflated by a heap that once held 5,000 connections. The cycles'
start is the RSS after a warm-up of WARM_UP_CYCLES connections (one-time imports and caches
counted); the cold figure before any connection is reported beside it.
"""

import asyncio
import json
import multiprocessing
import resource
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable, Iterable, Iterator
from contextlib import contextmanager, suppress
from datetime import datetime
from itertools import pairwise
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import Any

import httpx
import psutil
from prometheus_client.parser import text_string_to_metric_families

from bench.stack import (
    Stack,
    dashboard_command,
    percentile,
    private_stack,
    process,
    resident,
    use_stack,
    user_with_token,
    wait_for,
)
from dashboard.hoststats import sample_host
from dashboard.redisserver import free_port

HOST = "127.0.0.1"
CLIENTS = 5000
CYCLES = 10_000
CLIENT_PROCESSES = 2
GOAL_P99_MS = 250.0
GOAL_KB_PER_CONNECTION = 30.0
GOAL_MEMORY_GROWTH = 0.10
# Connections being opened at once, per client process: well inside uvicorn's listen backlog.
OPEN_CONCURRENCY = 100
OPEN_TIMEOUT_SECONDS = 30.0
OPEN_PHASE_SECONDS = 90.0
SETTLE_SECONDS = 5.0
HOLD_SECONDS = 20.0
# Host events taken this close to the hold's end may still be on their way: not counted.
LATE_MARGIN_SECONDS = 2.0
# A kept connection had a host event at most this long before the hold ended (period: 1 s).
LIVE_SECONDS = 3.0
# One round's worth: the warm-up reaches the same peak of open connections as every round of
# the cycles, so the start already holds what that peak costs and growth is what they leave.
CYCLE_ROUND = 500
WARM_UP_CYCLES = CYCLE_ROUND
CYCLE_PHASE_SECONDS = 90.0
CHUNK = 65536
READY = b"event: ready"
TAKEN_AT = b'"taken_at": "'

Answer = dict[str, Any]


# ---- client processes ------------------------------------------------------------------------


class HttpRefused(ConnectionError):
    """The server answered the stream request with something other than 200."""


class Window:
    """Whether host deliveries are being kept: only during the hold, so memory stays bounded."""

    def __init__(self) -> None:
        self.on = False


class Follower:
    """One open stream: when the last host event came, and while recording, each one's
    sample time (raw bytes, parsed later in bulk) and when it was parsed."""

    def __init__(self, window: Window, writer: asyncio.StreamWriter) -> None:
        self.window = window
        self.writer = writer
        self.event = b""
        self.last_host = 0.0
        self.deliveries: list[tuple[bytes, float]] = []
        self.untimed = 0
        self.error: str | None = None

    async def follow(self, reader: asyncio.StreamReader, opening: bytes) -> None:
        pending = self._take(opening)
        try:
            while chunk := await reader.read(CHUNK):
                pending = self._take(pending + chunk)
            self.error = "closed by the server"
        except OSError as error:
            self.error = type(error).__name__
        finally:
            self.writer.close()

    def _take(self, data: bytes) -> bytes:
        """Acts on the complete lines; returns the unfinished last one. Chunked-encoding size
        lines are ignored like any other line: sse-starlette sends each message as one chunk."""
        *lines, pending = data.split(b"\n")
        for line in lines:
            if line.startswith(b"event:"):
                self.event = line[6:].strip()
            elif line.startswith(b"data:") and self.event == b"host":
                self._host(line)
        return pending

    def _host(self, line: bytes) -> None:
        now = time.time()
        self.last_host = now
        if not self.window.on:
            return
        start = line.find(TAKEN_AT)
        if start < 0:
            self.untimed += 1
            return
        start += len(TAKEN_AT)
        self.deliveries.append((line[start : line.index(b'"', start)], now))


def stream_request(port: int, token: str) -> bytes:
    return (
        f"GET /api/events HTTP/1.1\r\nHost: {HOST}:{port}\r\n"
        f"Authorization: Bearer {token}\r\nAccept: text/event-stream\r\n\r\n"
    ).encode()


async def open_stream(
    port: int, request: bytes
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter, bytes]:
    """A stream read up to its `ready` event (the end of the opening snapshot); returns what
    was read from that event on, for the follower to carry on from."""
    reader, writer = await asyncio.open_connection(HOST, port)
    try:
        writer.write(request)
        status = await reader.readline()
        if not status.startswith(b"HTTP/1.1 200"):
            raise HttpRefused(status.decode(errors="replace").strip() or "no answer")
        seen = b""
        while READY not in seen:
            chunk = await reader.read(CHUNK)
            if not chunk:
                raise ConnectionError("closed before ready")
            seen += chunk
        return reader, writer, seen[seen.index(READY) :]
    except BaseException:
        writer.close()  # a timed-out or refused opening must not leave its socket behind
        raise


async def connect_and_leave(port: int, request: bytes) -> None:
    _, writer, _ = await asyncio.wait_for(open_stream(port, request), OPEN_TIMEOUT_SECONDS)
    writer.close()
    with suppress(OSError):
        await writer.wait_closed()


def error_name(error: BaseException) -> str:
    if isinstance(error, HttpRefused | TimeoutError):
        return f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
    return type(error).__name__


class Crowd:
    """The connections of one client process, driven by commands from the bench process."""

    def __init__(self) -> None:
        self.window = Window()
        self.followers: list[Follower] = []
        self.tasks: list[asyncio.Task[None]] = []
        self.taken_at: dict[bytes, float] = {}

    async def handle(self, command: dict[str, Any]) -> Answer:
        actions: dict[str, Callable[..., Awaitable[Answer]]] = {
            "open": self.open,
            "hold": self.hold,
            "close": self.close,
            "cycle": self.cycle,
        }
        operation = command.pop("op")
        return await actions[operation](**command)

    async def open(self, port: int, token: str, count: int, seconds: float) -> Answer:
        request, errors = stream_request(port, token), Counter[str]()
        gate = asyncio.Semaphore(OPEN_CONCURRENCY)
        started = time.monotonic()
        deadline = started + seconds
        attempts = (self._open_one(port, request, gate, deadline, errors) for _ in range(count))
        await asyncio.gather(*attempts)
        seconds_taken = time.monotonic() - started
        return {"opened": len(self.followers), "errors": dict(errors), "seconds": seconds_taken}

    async def _open_one(
        self,
        port: int,
        request: bytes,
        gate: asyncio.Semaphore,
        deadline: float,
        errors: Counter[str],
    ) -> None:
        async with gate:
            remaining = min(OPEN_TIMEOUT_SECONDS, deadline - time.monotonic())
            if remaining <= 0:
                errors["not tried: the open phase was over"] += 1
                return
            try:
                opening = await asyncio.wait_for(open_stream(port, request), remaining)
            except (OSError, TimeoutError, ValueError) as error:
                errors[error_name(error)] += 1
                return
        reader, writer, rest = opening
        follower = Follower(self.window, writer)
        self.followers.append(follower)
        self.tasks.append(asyncio.create_task(follower.follow(reader, rest)))

    async def hold(self, seconds: float, margin: float) -> Answer:
        for follower in self.followers:
            follower.deliveries.clear()
        self.window.on = True
        started = time.time()
        await asyncio.sleep(seconds)
        ended = time.time()
        self.window.on = False
        return self._hold_answer(started, ended - margin, ended - LIVE_SECONDS)

    def _hold_answer(self, first: float, last: float, live_since: float) -> Answer:
        latencies: dict[float, list[float]] = defaultdict(list)  # by host event (sample time)
        received: list[int] = []  # distinct host events each kept connection had
        lost: Counter[str] = Counter()
        for follower in self.followers:
            deliveries = self._timed(follower.deliveries)
            taken = {moment: at for moment, at in deliveries if first <= moment <= last}
            for moment, at in taken.items():
                latencies[moment].append((at - moment) * 1000)
            if follower.error is None and follower.last_host >= live_since:
                received.append(len(taken))
            else:
                lost[follower.error or "open but no host event lately"] += 1
        return {
            "latencies_ms": dict(latencies),
            "received": received,
            "lost": dict(lost),
            "untimed": sum(follower.untimed for follower in self.followers),
        }

    def _timed(self, deliveries: Iterable[tuple[bytes, float]]) -> Iterator[tuple[float, float]]:
        """(sample time, receive time): every client has the same few samples, parsed once."""
        for raw, at in deliveries:
            if raw not in self.taken_at:
                self.taken_at[raw] = datetime.fromisoformat(raw.decode()).timestamp()
            yield self.taken_at[raw], at

    async def close(self) -> Answer:
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        closed = len(self.followers)
        self.followers.clear()
        self.tasks.clear()
        await asyncio.sleep(0.5)  # the transports close on the loop's next turns
        return {"closed": closed}

    async def cycle(
        self, port: int, token: str, count: int, round_size: int, seconds: float
    ) -> Answer:
        """`count` connections, `round_size` at a time: each opens, takes its snapshot up to
        `ready`, and closes."""
        request, errors = stream_request(port, token), Counter[str]()
        deadline, tried = time.monotonic() + seconds, 0
        while tried < count and time.monotonic() < deadline:
            size = min(round_size, count - tried)
            attempts = (connect_and_leave(port, request) for _ in range(size))
            outcomes = await asyncio.gather(*attempts, return_exceptions=True)
            errors.update(error_name(out) for out in outcomes if isinstance(out, BaseException))
            tried += size
        failed = sum(errors.values())
        return {
            "done": tried - failed,
            "failed": failed,
            "not_tried": count - tried,
            "errors": dict(errors),
        }


def raise_open_file_limit(needed: int) -> int:
    """Soft limit up to the hard one (children inherit it); says so when it is still short."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard:
        with suppress(ValueError, OSError):  # an unlimited hard limit may be refused as is
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    if soft != resource.RLIM_INFINITY and soft < needed:
        say(f"open-file limit {soft} is below the {needed} needed")
    return soft


def client_main(pipe: Connection, needed_files: int) -> None:
    raise_open_file_limit(needed_files)
    try:
        import uvloop
    except ModuleNotFoundError:
        asyncio.run(serve_commands(pipe))
    else:
        uvloop.run(serve_commands(pipe))


async def serve_commands(pipe: Connection) -> None:
    crowd = Crowd()
    while True:
        command = await asyncio.to_thread(pipe.recv)  # EOFError if the bench process is gone
        if command["op"] == "quit":
            break
        pipe.send(await crowd.handle(command))
    await crowd.close()


# ---- the bench process -----------------------------------------------------------------------


class ClientPool:
    """Spawned client processes (nothing of this one's state), asked together, answering
    within a deadline."""

    def __init__(self, count: int, needed_files: int) -> None:
        context = multiprocessing.get_context("spawn")
        self.pipes: list[Connection] = []
        self.processes: list[multiprocessing.process.BaseProcess] = []
        for _ in range(count):
            ours, theirs = context.Pipe()
            child = context.Process(target=client_main, args=(theirs, needed_files), daemon=True)
            child.start()
            self.pipes.append(ours)
            self.processes.append(child)

    def ask(
        self, commands: list[Answer], timeout: float, tick: Callable[[], object] = lambda: None
    ) -> list[Answer]:
        """Sends each process its command; `tick` runs about once a second while they work."""
        for pipe, command in zip(self.pipes, commands, strict=True):
            pipe.send(command)
        answers: dict[int, Answer] = {}
        deadline = time.monotonic() + timeout
        while len(answers) < len(self.pipes):
            if time.monotonic() > deadline:
                raise TimeoutError(f"client processes gave no answer to {commands[0]['op']}")
            waiting = [pipe for number, pipe in enumerate(self.pipes) if number not in answers]
            for ready in wait(waiting, timeout=1.0):
                assert isinstance(ready, Connection)
                answers[self.pipes.index(ready)] = ready.recv()
            tick()
        return [answers[number] for number in range(len(self.pipes))]

    def stop(self) -> None:
        for pipe in self.pipes:
            with suppress(OSError):
                pipe.send({"op": "quit"})
        for child in self.processes:
            child.join(10)
            if child.is_alive():
                child.kill()
                child.join(5)

    def cpu_seconds(self) -> float:
        return sum(_cpu_seconds(psutil.Process(child.pid)) for child in self.processes)


@contextmanager
def client_pool(count: int, needed_files: int) -> Iterator[ClientPool]:
    pool = ClientPool(count, needed_files)
    try:
        yield pool
    finally:
        pool.stop()


def say(line: str) -> None:
    """Progress on stderr: stdout is the rows' JSON when this module runs alone."""
    print(f"   {line}", file=sys.stderr, flush=True)


def mib(size: int) -> float:
    return round(size / 2**20, 1)


def split(total: int, parts: int) -> list[int]:
    return [total // parts + (1 if number < total % parts else 0) for number in range(parts)]


def _cpu_seconds(member: psutil.Process) -> float:
    times = member.cpu_times()
    return times.user + times.system


def health(port: int) -> dict[str, Any] | None:
    try:
        answer = httpx.get(f"http://{HOST}:{port}/healthz", timeout=5)
    except httpx.HTTPError:
        return None
    return answer.json() if answer.status_code == 200 else None


def sse_connections(port: int, token: str) -> int | None:
    """How many streams the web process itself counts as open: its gauge on /metrics, which
    the bench's user may read as an admin."""
    try:
        answer = httpx.get(
            f"http://{HOST}:{port}/metrics", headers={"Authorization": f"Bearer {token}"}, timeout=5
        )
    except httpx.HTTPError:
        return None
    if answer.status_code != 200:
        return None
    for family in text_string_to_metric_families(answer.text):
        if family.name == "dashboard_sse_connections":
            return int(family.samples[0].value)
    return None


def wait_until_no_streams(port: int, token: str, timeout: float) -> int | None:
    """Waits (bounded) for the web process to notice every closed stream; returns the rest."""
    deadline = time.monotonic() + timeout
    while (left := sse_connections(port, token)) and time.monotonic() < deadline:
        time.sleep(0.5)
    return left


@contextmanager
def web_process(stack: Stack, log_path: Path) -> Iterator[tuple[int, psutil.Process]]:
    port = free_port()
    env = stack.env(PORT=str(port), HOST=HOST)
    with process(dashboard_command("web"), env, log_path) as web:
        wait_for(lambda: health(port) is not None, "the web", 60)
        time.sleep(3)  # the host sampler has published its first samples
        yield port, web


def bench_token(stack: Stack) -> str:
    """A user of the private stack and a personal token of theirs (this process writes them
    with the settings the web process gets)."""
    use_stack(stack)
    return user_with_token("connections", admin=True)[1]  # admin: it reads /metrics too


def sample_duration_ms() -> float:
    """How long taking a host sample takes here (idle): part of every latency measured."""
    durations = []
    for _ in range(5):
        started = time.perf_counter()
        sample_host()
        durations.append((time.perf_counter() - started) * 1000)
    return sorted(durations)[2]


# ---- part 1: concurrent clients --------------------------------------------------------------


def capacity(stack: Stack, token: str, pool: ClientPool, clients: int, work_dir: Path) -> Answer:
    with web_process(stack, work_dir / "web-capacity.log") as (port, web):
        figures: Answer = {"clients": clients, "rss_before": resident(web)}
        # The per-connection figure is taken against both starts: before any client (the
        # goal's), and after a warm-up has paid for one-time imports, caches and threads.
        figures["warm_up"] = run_cycles(pool, port, token, WARM_UP_CYCLES)
        time.sleep(SETTLE_SECONDS)
        figures["rss_warm"] = resident(web)
        say(f"web RSS {mib(figures['rss_before'])} MiB cold, {mib(figures['rss_warm'])} warm")
        figures |= open_clients(pool, port, token, clients)
        say(f"{figures['connected']:,} connected in {figures['connect_seconds']} s")
        time.sleep(SETTLE_SECONDS)
        figures |= {"rss_connected": resident(web), "server_counted": sse_connections(port, token)}
        figures |= hold(pool, web)
        say(f"{figures['kept']:,} kept; p50 {figures['p50_ms']} ms, p99 {figures['p99_ms']} ms")
        pool.ask([{"op": "close"}] * len(pool.pipes), 30)
        figures["server_left_after_close"] = wait_until_no_streams(port, token, 15)
    return figures


def open_clients(pool: ClientPool, port: int, token: str, clients: int) -> Answer:
    commands = [
        {"op": "open", "port": port, "token": token, "count": count, "seconds": OPEN_PHASE_SECONDS}
        for count in split(clients, len(pool.pipes))
    ]
    answers = pool.ask(commands, OPEN_PHASE_SECONDS + OPEN_TIMEOUT_SECONDS + 15)
    return {
        "connected": sum(answer["opened"] for answer in answers),
        "connect_errors": merge_counts(answer["errors"] for answer in answers),
        "connect_seconds": round(max(answer["seconds"] for answer in answers), 1),
    }


def hold(pool: ClientPool, web: psutil.Process) -> Answer:
    """Every client records the host events of HOLD_SECONDS; RSS is sampled meanwhile."""
    peak = [resident(web)]
    web_cpu, client_cpu = _cpu_seconds(web), pool.cpu_seconds()
    command = {"op": "hold", "seconds": HOLD_SECONDS, "margin": LATE_MARGIN_SECONDS}
    answers = pool.ask(
        [dict(command) for _ in pool.pipes],
        HOLD_SECONDS + 30,
        tick=lambda: peak.append(resident(web)),
    )
    cpu = {
        "web_cpu_percent": round(100 * (_cpu_seconds(web) - web_cpu) / HOLD_SECONDS),
        "clients_cpu_percent": round(100 * (pool.cpu_seconds() - client_cpu) / HOLD_SECONDS),
        "rss_peak_during_hold": max(peak),
    }
    return cpu | deliveries(answers)


def deliveries(answers: list[Answer]) -> Answer:
    by_event: dict[float, list[float]] = defaultdict(list)
    for answer in answers:
        for moment, values in answer["latencies_ms"].items():
            by_event[moment].extend(values)
    latencies = [value for values in by_event.values() for value in values]
    events = sorted(by_event)
    received = [count for answer in answers for count in answer["received"]]
    return {
        "kept": len(received),
        "lost": merge_counts(answer["lost"] for answer in answers),
        "host_events_in_hold": len(events),
        "sample_period_s": round(percentile([b - a for a, b in pairwise(events)], 0.5), 3),
        "deliveries": len(latencies),
        "missed_deliveries": sum(len(events) - count for count in received),
        "untimed_host_events": sum(answer["untimed"] for answer in answers),
        "p50_ms": round(percentile(latencies, 0.5), 1),
        "p99_ms": round(percentile(latencies, 0.99), 1),
        "max_ms": round(max(latencies, default=float("nan")), 1),
        "per_host_event": per_event(by_event),
    }


def per_event(by_event: dict[float, list[float]]) -> list[dict[str, float]]:
    """Each host event's spread over the clients: shows whether one slow burst or every
    burst makes the tail."""
    first = min(by_event, default=0.0)
    return [
        {
            "at_s": round(moment - first, 2),
            "first_ms": round(min(values), 1),
            "p50_ms": round(percentile(values, 0.5), 1),
            "last_ms": round(max(values), 1),
        }
        for moment, values in sorted(by_event.items())
    ]


def merge_counts(counts: Iterable[dict[str, int]]) -> dict[str, int]:
    total: Counter[str] = Counter()
    for count in counts:
        total.update(count)
    return dict(total)


# ---- part 2: connect and disconnect cycles ---------------------------------------------------


def churn(stack: Stack, token: str, pool: ClientPool, cycles: int, work_dir: Path) -> Answer:
    with web_process(stack, work_dir / "web-churn.log") as (port, web):
        figures: Answer = {
            "cycles": cycles,
            "warm_up_cycles": WARM_UP_CYCLES,
            "rss_cold": resident(web),
        }
        figures["warm_up"] = run_cycles(pool, port, token, WARM_UP_CYCLES)
        time.sleep(SETTLE_SECONDS)
        figures["rss_start"] = resident(web)
        figures |= run_cycles(pool, port, token, cycles)
        say(f"{figures['cycles_done']:,} cycles in {figures['cycle_seconds']} s")
        figures["server_left_after_cycles"] = wait_until_no_streams(port, token, 15)
        time.sleep(SETTLE_SECONDS)
        figures["rss_after"] = resident(web)
    return figures


def run_cycles(pool: ClientPool, port: int, token: str, count: int) -> Answer:
    rounds = split(CYCLE_ROUND, len(pool.pipes))
    commands = [
        {"op": "cycle", "port": port, "token": token, "count": share, "round_size": size}
        | {"seconds": CYCLE_PHASE_SECONDS}
        for share, size in zip(split(count, len(pool.pipes)), rounds, strict=True)
    ]
    started = time.monotonic()
    answers = pool.ask(commands, CYCLE_PHASE_SECONDS + OPEN_TIMEOUT_SECONDS + 15)
    return {
        "cycles_done": sum(answer["done"] for answer in answers),
        "cycles_failed": sum(answer["failed"] for answer in answers),
        "cycles_not_tried": sum(answer["not_tried"] for answer in answers),
        "cycle_errors": merge_counts(answer["errors"] for answer in answers),
        "cycle_seconds": round(time.monotonic() - started, 1),
    }


# ---- rows ------------------------------------------------------------------------------------


def kb_each(figures: Answer, start: str) -> float:
    grown = figures["rss_connected"] - figures[start]
    return grown / figures["connected"] / 1024 if figures["connected"] else float("nan")


def capacity_row(figures: Answer) -> dict[str, Any]:
    clients, kept, p99 = figures["clients"], figures["kept"], figures["p99_ms"]
    per_connection = kb_each(figures, "rss_before")
    figures["kb_per_connection"] = round(per_connection, 1)
    figures["kb_per_connection_after_warm_up"] = round(kb_each(figures, "rss_warm"), 1)
    return {
        "name": f"{clients:,} SSE clients on one web process",
        "value": f"{kept:,} of {clients:,} kept, p99 {p99:.0f} ms, {per_connection:.1f} KB each",
        "reference": (
            f"{figures['connected']:,} connected; p50 {figures['p50_ms']:.0f} ms over "
            f"{figures['deliveries']:,} deliveries; RSS {mib(figures['rss_before'])} -> "
            f"{mib(figures['rss_connected'])} MiB"
        ),
        "figure": p99,
        "goal": f"all kept, p99 <= {GOAL_P99_MS:.0f} ms, <= {GOAL_KB_PER_CONNECTION:.0f} KB each",
        "met": kept == clients and p99 <= GOAL_P99_MS and per_connection <= GOAL_KB_PER_CONNECTION,
        "detail": figures,
    }


def churn_row(figures: Answer) -> dict[str, Any]:
    start, after = figures["rss_start"], figures["rss_after"]
    growth = after / start - 1
    figures["growth_percent"] = round(100 * growth, 1)
    done, cycles = figures["cycles_done"], figures["cycles"]
    return {
        "name": f"{cycles:,} SSE connect/disconnect cycles",
        "value": f"RSS {mib(start)} -> {mib(after)} MiB ({100 * growth:+.1f}%), {done:,} done",
        "reference": (
            f"start = after {WARM_UP_CYCLES} warm-up connections; "
            f"cold {mib(figures['rss_cold'])} MiB"
        ),
        "figure": figures["growth_percent"],
        "goal": f"RSS back within {100 * GOAL_MEMORY_GROWTH:.0f}% of its start, every cycle done",
        "met": done == cycles and growth <= GOAL_MEMORY_GROWTH,
        "detail": figures,
    }


def measure(work_dir: Path, clients: int = CLIENTS, cycles: int = CYCLES) -> list[dict[str, Any]]:
    limit = raise_open_file_limit(clients + 500)  # the web process inherits it
    per_process = clients // CLIENT_PROCESSES + 500
    with private_stack(work_dir) as stack, client_pool(CLIENT_PROCESSES, per_process) as pool:
        token = bench_token(stack)
        together = capacity(stack, token, pool, clients, work_dir)
        one_by_one = churn(stack, token, pool, cycles, work_dir)
    together |= {"open_file_limit": limit, "sample_ms": round(sample_duration_ms(), 1)}
    return [capacity_row(together), churn_row(one_by_one)]


if __name__ == "__main__":
    count = int(sys.argv[1]) if len(sys.argv) > 1 else CLIENTS
    cycle_count = int(sys.argv[2]) if len(sys.argv) > 2 else CYCLES
    with tempfile.TemporaryDirectory() as directory:
        print(json.dumps(measure(Path(directory), count, cycle_count), indent=2))
