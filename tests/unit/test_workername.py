"""A worker's default Celery node name: unique per process, containers included."""

import os

from dashboard.cli import INITIAL_PID_NAMESPACE, default_worker_name


def test_outside_any_container_it_is_worker_pid_at_host() -> None:
    assert default_worker_name(lambda: INITIAL_PID_NAMESPACE) == f"worker-{os.getpid()}@%h"


def test_in_a_pid_namespace_of_its_own_the_namespace_joins_the_name() -> None:
    """Two containers sharing the host's name may both run their worker as pid 7."""
    first = default_worker_name(lambda: "pid:[4026532201]")
    second = default_worker_name(lambda: "pid:[4026532305]")
    assert first == f"worker-{os.getpid()}.4026532201@%h"
    assert first != second


def test_without_proc_it_is_worker_pid_at_host() -> None:
    def unreadable() -> str:
        raise OSError("no /proc here")

    assert default_worker_name(unreadable) == f"worker-{os.getpid()}@%h"
