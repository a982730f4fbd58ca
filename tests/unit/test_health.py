"""/healthz names what is down: the app built against a Redis and a database that answer nothing."""

from pathlib import Path

import httpx

from dashboard.app import create_app
from dashboard.settings import Settings
from tests import aio
from tests.processes import free_port


def get_health(settings: Settings) -> httpx.Response:
    """The app in-process, without its lifespan: no event reader, no sampler."""

    async def ask() -> httpx.Response:
        transport = httpx.ASGITransport(app=create_app(settings))
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            return await client.get("/healthz")

    return aio.run(ask())


def test_health_is_503_naming_each_service_that_is_down(tmp_path: Path) -> None:
    closed = free_port()  # nothing listens there
    settings = Settings(
        state_dir=tmp_path,
        redis_url=f"redis://127.0.0.1:{closed}/0",
        database_url=f"postgresql+psycopg://nobody@127.0.0.1:{closed}/none",
    )
    response = get_health(settings)
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["checks"]["redis"].startswith("down: ")
    assert body["checks"]["database"].startswith("down: ")


def test_health_is_200_when_both_answer(tmp_path: Path) -> None:
    from dashboard import migrate
    from dashboard.redisserver import EmbeddedRedis

    database_url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    migrate.upgrade(database_url)
    redis = EmbeddedRedis(tmp_path)
    try:
        settings = Settings(state_dir=tmp_path, redis_url=redis.start(), database_url=database_url)
        response = get_health(settings)
    finally:
        redis.stop()
    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "checks": {"database": "ok", "redis": "ok", "files_disk": "ok"},
    }


def test_a_files_disk_below_its_reserve_is_degraded_but_still_200(tmp_path: Path) -> None:
    """The site works; only new pi and CSV files are refused. A 503 would have a load
    balancer take every replica (all on that disk) out for it."""
    from dashboard import migrate
    from dashboard.redisserver import EmbeddedRedis

    database_url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    migrate.upgrade(database_url)
    redis = EmbeddedRedis(tmp_path)
    more_than_any_disk = 2**40  # MB: a petabyte kept free
    try:
        settings = Settings(
            state_dir=tmp_path,
            redis_url=redis.start(),
            database_url=database_url,
            files_min_free_mb=more_than_any_disk,
        )
        response = get_health(settings)
    finally:
        redis.stop()
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "degraded"
    assert body["checks"]["files_disk"].startswith("low: ")
    assert body["checks"]["files_disk"].endswith("kept free; new pi and CSV files are refused")


def test_health_is_503_until_the_database_is_migrated(tmp_path: Path) -> None:
    """A replica started before `dashboard migrate` answers every request with an error: it
    must not look ready. Once migrated, it is, with no restart."""
    from dashboard import migrate
    from dashboard.redisserver import EmbeddedRedis

    database_url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    redis = EmbeddedRedis(tmp_path)
    try:
        settings = Settings(state_dir=tmp_path, redis_url=redis.start(), database_url=database_url)
        before = get_health(settings)
        migrate.upgrade(database_url)
        after = get_health(settings)
    finally:
        redis.stop()
    assert before.status_code == 503
    head = migrate.head_revision()
    wanted = f"not migrated: at no revision, this code needs {head}"
    assert before.json()["checks"]["database"] == wanted
    assert after.status_code == 200


def test_a_broker_of_its_own_that_does_not_answer_is_503(tmp_path: Path) -> None:
    """With RabbitMQ (say) as the broker, a replica that cannot reach it refuses every start:
    it must leave the load balancer (operator probe: 200 meanwhile)."""
    from dashboard import migrate
    from dashboard.redisserver import EmbeddedRedis

    database_url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    migrate.upgrade(database_url)
    redis = EmbeddedRedis(tmp_path)
    try:
        redis_url = redis.start()
        away = f"amqp://guest:guest@127.0.0.1:{free_port()}//"
        responses = [
            get_health(
                Settings(
                    state_dir=tmp_path,
                    redis_url=redis_url,
                    database_url=database_url,
                    celery_broker_url=broker_url,
                )
            )
            for broker_url in (away, redis_url)
        ]
    finally:
        redis.stop()
    down, on_the_redis = responses
    assert down.status_code == 503
    assert down.json()["checks"]["broker"].startswith("down: ")
    assert on_the_redis.status_code == 200 and "broker" not in on_the_redis.json()["checks"]
