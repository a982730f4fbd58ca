"""Host sampling gives plausible figures of this machine; the sampler loop shares them."""

import asyncio
import threading

import psutil

from dashboard.events import Event, EventType
from dashboard.hoststats import _core_times, sample_host
from dashboard.sampler import HostSampler
from tests import aio
from tests.factories import host_snapshot


def test_sample_host_describes_this_machine() -> None:
    sample_host()  # psutil measures CPU between calls: the first one only sets the mark
    snapshot = sample_host()
    assert len(snapshot.cpu.per_core) == psutil.cpu_count()
    assert 0 <= snapshot.cpu.overall <= 100
    assert len(snapshot.cpu_times) == psutil.cpu_count()
    assert 0 < snapshot.memory.used < snapshot.memory.total
    assert snapshot.disks, "at least the root file system is readable"
    for disk in snapshot.disks:
        assert disk.total >= disk.used and 0 <= disk.percent <= 100


def test_core_times_keep_the_main_fields_and_the_rest() -> None:
    times = _core_times({"user": 10.0, "system": 5.0, "idle": 80.0, "iowait": 5.0})
    assert (times.user, times.system, times.idle) == (10.0, 5.0, 80.0)
    assert times.other == {"iowait": 5.0}


def test_sampler_publishes_each_sample_and_keeps_five_minutes() -> None:
    published: list[Event] = []
    samples = iter(host_snapshot(cpu=float(n)) for n in range(400))
    sampler = HostSampler(published.append, interval=1.0, sample=lambda: next(samples))
    for _ in range(400):
        sampler.take()
    assert len(published) == 400
    assert all(event.type == EventType.HOST and event.public for event in published)
    assert len(sampler.history) == 300
    assert sampler.latest is not None and sampler.latest.cpu.overall == 399.0


def test_sampler_loop_survives_a_failing_sample() -> None:
    published: list[Event] = []
    calls = {"count": 0}

    def flaky() -> object:
        calls["count"] += 1
        if calls["count"] == 1:
            raise OSError("a mount vanished")
        return host_snapshot()

    sampler = HostSampler(published.append, interval=0.01, sample=flaky)  # type: ignore[arg-type]

    async def run_briefly() -> None:
        loop = asyncio.create_task(sampler.run())
        for _ in range(500):
            if published:
                break
            await asyncio.sleep(0.01)
        loop.cancel()

    aio.run(run_briefly())
    assert calls["count"] >= 2 and published


def test_sampler_publishes_on_the_event_loop_not_in_its_sampling_thread() -> None:
    # The hub's queues belong to the loop: a publish from another thread would not wake the
    # streams waiting on them.
    publishing_threads: list[threading.Thread] = []
    sampling_threads: list[threading.Thread] = []

    def sample() -> object:
        sampling_threads.append(threading.current_thread())
        return host_snapshot()

    sampler = HostSampler(
        lambda _: publishing_threads.append(threading.current_thread()),
        interval=0.01,
        sample=sample,  # type: ignore[arg-type]
    )

    async def run_briefly() -> threading.Thread:
        loop = asyncio.create_task(sampler.run())
        for _ in range(500):
            if len(publishing_threads) >= 2:
                break
            await asyncio.sleep(0.01)
        loop.cancel()
        return threading.current_thread()

    loop_thread = aio.run(run_briefly())
    assert len(publishing_threads) >= 2
    assert set(publishing_threads) == {loop_thread}
    assert loop_thread not in sampling_threads
