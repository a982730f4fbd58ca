"""`dashboard run` end to end: the real supervisor, embedded redis-server, Celery and uvicorn.

Each test starts `python -m dashboard run` on a free loopback port with a fresh state
directory and REDIS_URL/DATABASE_URL unset, so it uses its private Redis and SQLite. Every
wait is bounded in time; the assertions are about which processes exist, never about speed.
"""

import contextlib
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest
from redis import Redis
from redis.exceptions import AuthenticationError

from dashboard.db import make_engine
from tests.accounts import form_token, make_user, page_csrf
from tests.processes import embedded_env, free_port, spawn_dashboard_run, wait_until

pytestmark = [pytest.mark.integration, pytest.mark.same_on_every_path]

START_SECONDS = 60.0
RESTART_SECONDS = 60.0
STOP_SECONDS = 60.0
ORPHAN_SECONDS = 30.0  # a cold shutdown: 5 s for running tasks, then the pool is ended
WORKER_CONCURRENCY = 2
SYSTEM_REDIS_PORT = 6379


def gone(pid: int) -> bool:
    """Dead, counting a zombie that only waits for whoever adopted it to reap it."""
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def role_of(process: psutil.Process) -> str | None:
    with contextlib.suppress(psutil.Error):
        if process.name() == "redis-server":  # it rewrites its command line: name and address
            return "redis"
        argv = process.cmdline()
        if argv[1:3] == ["-m", "dashboard"] and len(argv) > 3:
            return argv[3]
    return None


def listening_ports(process: psutil.Process) -> set[int]:
    return {c.laddr.port for c in process.net_connections("tcp") if c.status == psutil.CONN_LISTEN}


@dataclass
class Run:
    process: subprocess.Popen[bytes]
    port: int
    state_dir: Path
    log_file: Path
    seen: list[psutil.Process]
    # An admin's personal token, made in the run's own database once it is up.
    token: str = ""

    def wait(self, ready: Callable[[], bool], what: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not ready():
            if self.process.poll() is not None:
                pytest.fail(f"dashboard run exited ({self.process.returncode}):\n{self.log()}")
            if time.monotonic() >= deadline:
                pytest.fail(f"timed out after {timeout:.0f}s waiting for {what}:\n{self.log()}")
            time.sleep(0.2)

    def children(self) -> dict[str, psutil.Process]:
        """The supervisor's direct children, by role."""
        found = {}
        for child in psutil.Process(self.process.pid).children():
            role = role_of(child)
            if role is not None and not gone(child.pid):
                found[role] = child
        return found

    def descendants(self) -> list[psutil.Process]:
        """The whole tree below the supervisor, remembered for the clean-up after a failure."""
        tree = psutil.Process(self.process.pid).children(recursive=True)
        self.seen.extend(tree)
        return tree

    def healthy(self) -> bool:
        try:
            url = f"http://127.0.0.1:{self.port}/healthz"
            return httpx.get(url, timeout=2.0, trust_env=False).status_code == 200
        except httpx.HTTPError:
            return False

    def worker_pool_ready(self) -> bool:
        worker = self.children().get("worker")
        with contextlib.suppress(psutil.Error):
            return worker is not None and len(worker.children()) >= WORKER_CONCURRENCY
        return False

    def log(self) -> str:
        return self.log_file.read_text(errors="replace")[-6000:]


def start_run(tmp_path: Path, port: int, **env: str) -> Run:
    """Starts `dashboard run` on a state directory (reused across calls) and waits until up."""
    log_file = tmp_path / "run.log"
    process = spawn_dashboard_run(
        tmp_path / "state",
        port,
        log_file,
        WORKER_CONCURRENCY=str(WORKER_CONCURRENCY),
        WEB_CONCURRENCY="1",
        **env,
    )
    run = Run(process, port, tmp_path / "state", log_file, seen=[])
    try:
        run.wait(run.healthy, "GET /healthz to answer 200", START_SECONDS)
        run.wait(lambda: run.children().keys() >= {"redis", "worker", "web"}, "3 roles", 10.0)
        run.wait(run.worker_pool_ready, "the worker's pool processes", START_SECONDS)
        run.descendants()
        run.token = _admin_token(run.state_dir)
    except BaseException:
        _kill_leftovers(run)
        raise
    return run


@pytest.fixture
def dashboard_run(tmp_path: Path) -> Iterator[Run]:
    run = start_run(tmp_path, free_port())
    try:
        yield run
    finally:
        _kill_leftovers(run)


def _kill_leftovers(run: Run) -> None:
    """After a failed test, nothing may keep running (nor hold the port)."""
    with contextlib.suppress(psutil.Error):
        run.descendants()
    if run.process.poll() is None:
        run.process.kill()
        run.process.wait(timeout=STOP_SECONDS)
    for process in run.seen:  # psutil refuses to signal a pid that has been reused
        with contextlib.suppress(psutil.Error):
            process.kill()


def stop_and_check_nothing_is_left(run: Run, stop_signal: signal.Signals) -> None:
    tree = run.descendants()
    pids = {process.pid for process in tree}
    assert len(pids) >= 3 + WORKER_CONCURRENCY  # redis, worker + pool, web

    run.process.send_signal(stop_signal)
    assert run.process.wait(timeout=STOP_SECONDS) == 0, run.log()
    left = sorted(pid for pid in pids if not gone(pid))
    assert left == [], run.log()


def test_run_serves_from_private_redis_and_sqlite_and_stops_on_sigterm(
    dashboard_run: Run,
) -> None:
    redis_ports = listening_ports(dashboard_run.children()["redis"])
    assert len(redis_ports) == 1 and SYSTEM_REDIS_PORT not in redis_ports
    assert (dashboard_run.state_dir / "dashboard.db").exists()
    assert (dashboard_run.state_dir / "redis" / "appendonly.aof").exists()
    assert f"dashboard is up on http://127.0.0.1:{dashboard_run.port}" in dashboard_run.log()

    stop_and_check_nothing_is_left(dashboard_run, signal.SIGTERM)


def test_no_other_user_of_the_machine_can_read_its_state_or_use_its_redis(
    dashboard_run: Run,
) -> None:
    state = dashboard_run.state_dir
    for path in (state, state / "redis", state / "dashboard.db", state / "redis" / "redis.log"):
        assert path.stat().st_mode & 0o077 == 0, f"{path} is open to others"
    (port,) = listening_ports(dashboard_run.children()["redis"])
    with Redis(port=port) as stranger, pytest.raises(AuthenticationError):
        stranger.xrevrange("dashboard:events", count=1)
    # The password is in a file only the owner reads, and on no command line (ps shows those).
    config = (state / "redis" / "password.conf").read_text()
    password = config.removeprefix("requirepass ").strip()
    assert len(password) >= 32
    with Redis(port=port, password=password) as owner:
        assert owner.ping()
    for process in dashboard_run.descendants():
        with contextlib.suppress(psutil.Error):
            assert password not in " ".join(process.cmdline())
    assert password not in dashboard_run.log()
    # Nor can a program on this machine pass for another address: X-Forwarded-For is not
    # trusted from 127.0.0.1 (no proxy is named), so the per-address login limit holds.
    url = f"http://127.0.0.1:{dashboard_run.port}/api/tokens"
    body = {"email": "nobody@example.com", "password": "wrong password"}
    answers = [
        httpx.post(url, json=body, headers={"X-Forwarded-For": f"10.0.0.{n}"}, timeout=10)
        for n in range(1, 8)
    ]
    assert [answer.status_code for answer in answers][-2:] == [429, 429]


def test_a_killed_worker_is_replaced_and_ctrl_c_stops_everything(dashboard_run: Run) -> None:
    worker = dashboard_run.children()["worker"]
    pool = worker.children()
    worker.send_signal(signal.SIGKILL)

    def replaced() -> bool:
        new = dashboard_run.children().get("worker")
        return new is not None and new.pid != worker.pid

    dashboard_run.wait(replaced, "a new worker", RESTART_SECONDS)
    # The dead worker's pool processes went with its process group.
    dashboard_run.wait(lambda: all(gone(p.pid) for p in pool), "old pool to exit", 10.0)
    dashboard_run.wait(dashboard_run.worker_pool_ready, "the new worker's pool", START_SECONDS)
    assert dashboard_run.healthy()
    # The new worker takes the dead one's name, so the fleet shows one worker, not two.
    new_pid = dashboard_run.children()["worker"].pid
    dashboard_run.wait(lambda: _online_pids(dashboard_run) == [new_pid], "its report", 30)
    assert [worker["name"] for worker in _workers(dashboard_run)] == [_embedded_worker_name()]

    stop_and_check_nothing_is_left(dashboard_run, signal.SIGINT)


def test_a_killed_redis_comes_back_on_the_same_port(dashboard_run: Run) -> None:
    redis = dashboard_run.children()["redis"]
    ports = listening_ports(redis)
    redis.send_signal(signal.SIGKILL)

    def replaced() -> bool:
        new = dashboard_run.children().get("redis")
        with contextlib.suppress(psutil.Error):
            return new is not None and new.pid != redis.pid and listening_ports(new) == ports
        return False

    dashboard_run.wait(replaced, "a new redis-server on the same port", RESTART_SECONDS)
    dashboard_run.wait(dashboard_run.healthy, "the web to reconnect", RESTART_SECONDS)

    stop_and_check_nothing_is_left(dashboard_run, signal.SIGTERM)


def _admin_token(state_dir: Path) -> str:
    engine = make_engine(f"sqlite:///{state_dir.resolve() / 'dashboard.db'}")
    try:
        return make_user(engine, admin=True).token
    finally:
        engine.dispose()


def _api(run: Run) -> httpx.Client:
    return httpx.Client(
        base_url=f"http://127.0.0.1:{run.port}",
        timeout=10,
        trust_env=False,
        headers={"Authorization": f"Bearer {run.token}"},
    )


def _task(run: Run, task_id: str) -> dict[str, Any]:
    with _api(run) as api:
        answer: dict[str, Any] = api.get(f"/api/tasks/{task_id}").json()
    return answer


def _submit_demo(run: Run, seconds: float) -> str:
    with _api(run) as api:
        response = api.post("/api/tasks/demo", json={"seconds": seconds, "should_fail": False})
    task_id: str = response.json()["id"]
    return task_id


def _workers(run: Run) -> list[dict[str, Any]]:
    with _api(run) as api:
        workers: list[dict[str, Any]] = api.get("/api/workers").json()["workers"]
    return workers


def _online_pids(run: Run) -> list[int]:
    return [worker["pid"] for worker in _workers(run) if worker["online"]]


def _embedded_worker_name() -> str:
    return f"worker@{socket.gethostname()}"


def _restart(run: Run, tmp_path: Path) -> Run:
    try:
        stop_and_check_nothing_is_left(run, signal.SIGINT)
    finally:
        _kill_leftovers(run)
    return start_run(tmp_path, run.port)


def test_a_restart_keeps_finished_tasks_and_reruns_or_closes_active_ones(tmp_path: Path) -> None:
    run = start_run(tmp_path, free_port())
    try:
        done = _submit_demo(run, 0)
        run.wait(lambda: _task(run, done)["state"] == "SUCCESS", "a finished task", 60)
        running = _submit_demo(run, 30)
        run.wait(lambda: _task(run, running)["state"] == "PROGRESS", "a running task", 60)

        # Stopped mid-task, the message goes back to the queue and runs again on restart.
        run = _restart(run, tmp_path)
        assert _task(run, done)["state"] == "SUCCESS"
        # The worker of before the restart is not left in the fleet as an offline row.
        run.wait(lambda: len(_online_pids(run)) == 1, "the new worker's report", 30)
        assert [worker["name"] for worker in _workers(run)] == [_embedded_worker_name()]
        run.wait(lambda: _task(run, running)["attempts"] >= 2, "the task to run again", 60)

        # Redis loses its data (its files deleted while stopped): nothing can run the task,
        # so the restart closes it as failed, saying why, instead of showing it active forever.
        stop_and_check_nothing_is_left(run, signal.SIGINT)
        shutil.rmtree(run.state_dir / "redis")
        run = start_run(tmp_path, run.port)
        lost = _task(run, running)
        assert lost["state"] == "LOST" and "lost in a restart" in lost["error"]
        assert _task(run, done)["state"] == "SUCCESS"
        stop_and_check_nothing_is_left(run, signal.SIGTERM)
    finally:
        _kill_leftovers(run)


def test_a_sigkilled_supervisor_leaves_nothing_running_even_mid_task(tmp_path: Path) -> None:
    """The kernel tells the children when `dashboard run` dies without stopping them. The
    worker took that as a warm shutdown and waited for its running task, with Redis gone with
    the rest, and stayed behind for minutes (probe finding): it now stops at once, leaving
    the task's message to the next start."""
    run = start_run(tmp_path, free_port())
    try:
        running = _submit_demo(run, 60)
        run.wait(lambda: _task(run, running)["state"] == "PROGRESS", "a running task", 60)
        pids = {process.pid for process in run.descendants()}
        run.process.kill()
        run.process.wait(timeout=STOP_SECONDS)
        wait_until(lambda: all(gone(pid) for pid in pids), "every child to exit", ORPHAN_SECONDS)

        run = start_run(tmp_path, run.port)  # the task's message was kept: it runs again
        run.wait(lambda: _task(run, running)["attempts"] >= 2, "the task to run again", 60)
        stop_and_check_nothing_is_left(run, signal.SIGTERM)
    finally:
        _kill_leftovers(run)


def _processes(api: httpx.Client) -> dict[str, dict[str, Any]]:
    listing = api.get("/api/processes").json()
    assert listing["supervised"] is True
    return {process["name"]: process for process in listing["processes"]}


def test_the_page_can_stop_start_and_read_the_processes(dashboard_run: Run) -> None:
    with _api(dashboard_run) as api:
        processes = _processes(api)
        assert {name: p["state"] for name, p in processes.items()} == {
            "redis": "running",
            "worker": "running",
            "beat": "running",
            "web": "running",
        }
        worker = psutil.Process(processes["worker"]["pid"])
        pool = worker.children()
        assert api.post("/api/processes/worker/stop").status_code == 202
        dashboard_run.wait(lambda: _processes(api)["worker"]["state"] == "stopped", "stop", 60)
        assert all(gone(process.pid) for process in [worker, *pool])
        assert api.post("/api/processes/worker/start").status_code == 202
        dashboard_run.wait(lambda: _processes(api)["worker"]["state"] == "running", "start", 60)
        new_pid = _processes(api)["worker"]["pid"]
        assert new_pid != worker.pid
        # The output kept spans restarts, like a log file: look for the new worker's line.
        dashboard_run.wait(
            lambda: f"worker[{new_pid}]" in api.get("/api/processes/worker/log").text,
            "the new worker's output",
            60,
        )
        dashboard_run.wait(dashboard_run.worker_pool_ready, "the new worker's pool", 60)
        assert "Ready to accept connections" in api.get("/api/processes/redis/log").text
        assert api.post("/api/processes/web/stop").status_code == 409
        assert api.post("/api/processes/nobody/stop").status_code == 404
        assert api.post("/api/processes/worker/dance").status_code == 422
    stop_and_check_nothing_is_left(dashboard_run, signal.SIGTERM)


def _create_admin(
    run: Run, email: str, password: str, command_name: str = "create-admin"
) -> subprocess.CompletedProcess[str]:
    env = embedded_env(run.state_dir)
    command = [sys.executable, "-m", "dashboard", command_name, email, "--password-stdin"]
    return subprocess.run(
        command, input=password + "\n", env=env, capture_output=True, text=True, timeout=60
    )


@contextlib.contextmanager
def _log_in(run: Run, email: str, password: str) -> Iterator[httpx.Client]:
    """A browser-like client logged in through the real login form."""
    with httpx.Client(
        base_url=f"http://127.0.0.1:{run.port}", timeout=10, trust_env=False
    ) as client:
        token = form_token(client.get("/login").text)
        form = {"email": email, "password": password, "csrf_token": token}
        answer = client.post("/login", data=form)
        assert answer.status_code == 303, answer.text
        yield client


def test_create_admin_and_the_beat_that_expires_old_files(tmp_path: Path) -> None:
    # Files expire two seconds after their task ends; beat sweeps every second.
    run = start_run(tmp_path, free_port(), FILE_RETENTION_HOURS="0.0005", FILE_SWEEP_SECONDS="1")
    try:
        made = _create_admin(run, "Boss@Example.com", "a long enough secret")
        assert made.returncode == 0 and "created admin boss@example.com" in made.stderr
        assert _create_admin(run, "short@example.com", "tiny").returncode == 2
        # An operator's reset of an ordinary account keeps it ordinary.
        with httpx.Client(base_url=f"http://127.0.0.1:{run.port}", trust_env=False) as anyone:
            body = {"email": "ann@example.com", "password": "ann's first secret"}
            assert anyone.post("/api/users", json=body).status_code == 201
        reset = _create_admin(run, "ann@example.com", "ann's new secret", "reset-password")
        assert reset.returncode == 0 and "reset the password of ann@example.com" in reset.stderr
        with _log_in(run, "ann@example.com", "ann's new secret") as ann:
            assert ann.get("/api/me").json()["is_admin"] is False
        with _log_in(run, "boss@example.com", "a long enough secret") as boss:
            assert boss.get("/api/me").json()["is_admin"] is True
            boss.headers["X-CSRF-Token"] = page_csrf(boss.get("/").text)
            body = {"digits": 100, "notify_email": True}
            task_id = boss.post("/api/tasks/pi", json=body).json()["id"]

            def task() -> dict[str, Any]:
                answer: dict[str, Any] = boss.get(f"/api/tasks/{task_id}").json()
                return answer

            run.wait(lambda: task()["state"] == "SUCCESS", "the pi task", 60)
            file = run.state_dir / "files" / f"pi-{task_id}.txt"
            run.wait(lambda: task()["file_expired_at"] is not None, "the file to expire", 60)
            assert not file.exists()
            assert boss.get(f"/api/tasks/{task_id}/file").status_code == 410
            assert "file expired" in boss.get("/").text
            # With no SMTP_URL the e-mail goes to the outbox folder, as an .eml file.
            (mail,) = (run.state_dir / "outbox").glob("*.eml")
            text = mail.read_text()
            assert "To: boss@example.com" in text and "pi to 100 digits: SUCCESS" in text
        stop_and_check_nothing_is_left(run, signal.SIGTERM)
    finally:
        _kill_leftovers(run)


def test_a_worker_started_alone_on_an_unmigrated_database_refuses_to_start(
    tmp_path: Path,
) -> None:
    """No DATABASE_URL, so the SQLite file of its state directory: empty, it took tasks and
    held each for the database retries (operator probe); missing (a mistyped directory), the
    same (QA). It now says why and exits at once, making no file; and without REDIS_URL it
    says which Redis it would have used."""
    env = embedded_env(tmp_path)  # no REDIS_URL, no DATABASE_URL
    command = [sys.executable, "-m", "dashboard", "worker"]
    database = tmp_path.resolve() / "dashboard.db"
    missing = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)
    assert missing.returncode == 2, missing.stderr
    assert "REDIS_URL is not set: using redis://127.0.0.1:6379/0" in missing.stderr
    said = f"not starting: the database at sqlite:///{database} is missing: no such file"
    assert said in missing.stderr and not database.exists()
    sqlite3.connect(database).close()  # an empty database file
    empty = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)
    assert empty.returncode == 2, empty.stderr
    said = f"not starting: the database at sqlite:///{database} is not migrated: at no revision"
    assert said in empty.stderr


def test_a_web_started_on_an_unmigrated_database_says_so_at_once(tmp_path: Path) -> None:
    """It starts (its /healthz tells a load balancer), but the reason was heard only at the
    first request that needed the database (QA)."""
    sqlite3.connect(tmp_path / "dashboard.db").close()
    env = {**embedded_env(tmp_path), "PORT": str(free_port()), "REDIS_URL": "redis://127.0.0.1:1/0"}
    web = subprocess.Popen(
        [sys.executable, "-m", "dashboard", "web"], env=env, stderr=subprocess.PIPE, text=True
    )
    watchdog = threading.Timer(30, web.kill)  # a silent web ends the reads (EOF), not the test
    watchdog.start()
    try:
        assert web.stderr is not None
        lines = [web.stderr.readline() for _ in range(3)]  # it says so before uvicorn starts
    finally:
        watchdog.cancel()
        web.kill()
        web.wait(10)
    assert any(
        "is not migrated: at no revision" in line and "answer 503 until it is migrated" in line
        for line in lines
    ), lines
