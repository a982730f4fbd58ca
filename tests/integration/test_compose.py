"""compose.yaml's deployment, run as plain processes on this machine (Docker does not run
here): the migrate step once, two web processes, two workers and beat, each with the command
and environment compose gives it, against a real redis-server and the PostgreSQL here.

The whole flow goes through both web processes: register and get a token from one, submit
from the other, follow the task's events on both, download its file. Every event of the task
reaches the clients of each web process, once each.
"""

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from dashboard.redisserver import EmbeddedRedis
from tests.accounts import PASSWORD, unique_email
from tests.compose import ServiceCommand, app_services, load_compose
from tests.processes import Service, answers, free_port, wait_until
from tests.services import DEFAULT_POSTGRES_URL, throwaway_database
from tests.sse import Stream, open_stream

pytestmark = [pytest.mark.integration, pytest.mark.same_on_every_path]
WORKERS = 2  # docker compose up --scale worker=2
START_SECONDS = 60


@pytest.fixture
def deployment(tmp_path: Path) -> Iterator[dict[str, ServiceCommand]]:
    redis = EmbeddedRedis(tmp_path / "redis")
    admin_url = os.environ.get("TEST_POSTGRES_URL", DEFAULT_POSTGRES_URL)
    with throwaway_database(admin_url) as database_url:
        redis.start()
        try:
            yield app_services(
                load_compose(),
                redis_url=redis.url,
                database_url=database_url,
                data_dir=tmp_path / "data",
            )
        finally:
            redis.stop()


def start(service: ServiceCommand, log_dir: Path, index: int, **env: str) -> Service:
    name = f"{service.name}-{index}"
    process = Service(
        service.name, {**os.environ, **service.env, **env}, log_dir, argv=service.argv, name=name
    )
    return process.start()


def test_the_compose_services_run_the_whole_flow_through_two_web_processes(
    deployment: dict[str, ServiceCommand], tmp_path: Path
) -> None:
    migrate = deployment["migrate"]
    done = subprocess.run(
        migrate.argv, env={**os.environ, **migrate.env}, timeout=120, capture_output=True
    )
    assert done.returncode == 0, done.stderr.decode()
    assert deployment["web"].replicas == 2
    ports = [free_port() for _ in range(deployment["web"].replicas)]
    running = [
        start(deployment["web"], tmp_path, i, PORT=str(port)) for i, port in enumerate(ports)
    ]
    # Each container has a host name of its own, which %h in WORKER_NAME stands for; here
    # they share this machine's, so each gets the name its container would have.
    node = deployment["worker"].env["WORKER_NAME"]
    assert node == "worker@%h"
    running += [
        start(deployment["worker"], tmp_path, i, WORKER_NAME=node.replace("%h", f"container-{i}"))
        for i in range(WORKERS)
    ]
    running.append(start(deployment["beat"], tmp_path, 0))
    try:
        urls = [f"http://127.0.0.1:{port}" for port in ports]
        for url in urls:
            wait_until(lambda url=url: answers(f"{url}/healthz"), f"{url} to answer", START_SECONDS)
        run_the_flow(*urls)
    finally:
        for process in running:
            process.stop()
    for process in running:
        assert "Traceback" not in process.log_path.read_text(errors="replace"), process.log_tail()


def run_the_flow(first: str, second: str) -> None:
    email = unique_email("compose")
    registered = httpx.post(f"{first}/api/users", json={"email": email, "password": PASSWORD})
    assert registered.status_code == 201, registered.text
    token = httpx.post(f"{second}/api/tokens", json={"email": email, "password": PASSWORD})
    headers = {"Authorization": f"Bearer {token.json()['token']}"}
    with (
        httpx.Client(base_url=first, headers=headers, timeout=10) as on_first,
        httpx.Client(base_url=second, headers=headers, timeout=10) as on_second,
    ):
        with (
            open_stream(on_first, "/api/events") as first_stream,
            open_stream(on_second, "/api/events") as second_stream,
        ):
            for stream in (first_stream, second_stream):
                stream.read_until(lambda got: bool(got), 30, events=("ready",))
            submitted = on_second.post("/api/tasks/pi", json={"digits": 2000})
            assert submitted.status_code == 202, submitted.text
            task_id = submitted.json()["id"]
            seen = [task_events(stream, task_id) for stream in (first_stream, second_stream)]
        assert seen[0] == seen[1], "the two web processes sent different events"
        assert len(seen[0]) == len(set(seen[0])), "an event came twice"
        task = on_first.get(f"/api/tasks/{task_id}").json()
        assert task["state"] == "SUCCESS" and task["worker"].startswith("worker@container-")
        download = on_first.get(f"/api/tasks/{task_id}/file")
        assert download.status_code == 200 and download.text.startswith("3.14159")
        assert len(download.text.strip()) == len("3.") + 2000


def task_events(stream: Stream, task_id: str) -> list[str]:
    """Ids of the task's events on one stream, through its SUCCESS."""
    messages = stream.read_until(
        lambda got: any(
            m.json().get("id") == task_id and m.json()["state"] == "SUCCESS" for m in got
        ),
        60,
        events=("task",),
    )
    return [m.id or "" for m in messages if m.json().get("id") == task_id]
