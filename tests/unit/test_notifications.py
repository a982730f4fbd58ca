"""E-mails about tasks: at most MAIL_MAX_PER_HOUR to one user in an hour, each task counted
once. Against a real Redis; `send_task_finished` with a real SQLite file and the outbox."""

from collections.abc import Iterator
from pathlib import Path

import pytest
from redis import Redis
from sqlmodel import Session

from dashboard import migrate, notifications, runtime
from dashboard.models import Task, TaskState
from dashboard.redisserver import EmbeddedRedis
from dashboard.settings import get_settings
from tests.accounts import make_user


def test_each_user_may_have_the_limit_an_hour(redis: Redis) -> None:
    def allowed(owner_id: int, task_id: str) -> bool:
        return notifications.may_send(redis, owner_id=owner_id, task_id=task_id, limit=2)

    assert [allowed(1, f"t{n}") for n in range(3)] == [True, True, False]
    assert allowed(2, "u0"), "the limit is each user's own"
    # A task asked about again (its send retried) keeps its answer, and is not counted again.
    assert allowed(1, "t0") and not allowed(1, "t2")
    assert 0 < redis.ttl(f"{notifications.SENT_KEY_PREFIX}1") <= 3600


def test_with_redis_away_the_email_goes(tmp_path: Path) -> None:
    from tests.processes import free_port

    away = Redis(port=free_port(), socket_connect_timeout=1)
    assert notifications.may_send(away, owner_id=1, task_id="t0", limit=1)


@pytest.fixture
def stack(
    tmp_path: Path, redis_server: EmbeddedRedis, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Path]:
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    migrate.upgrade(url)
    Redis.from_url(redis_server.url).flushdb()
    for name, value in {
        "DASHBOARD_STATE_DIR": str(tmp_path),
        "DATABASE_URL": url,
        "REDIS_URL": redis_server.url,
        "MAIL_MAX_PER_HOUR": "2",
        "SMTP_URL": "",
    }.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    runtime.reset_after_fork()
    yield tmp_path / "outbox"
    get_settings.cache_clear()
    runtime.reset_after_fork()


def test_past_the_limit_no_email_is_sent(stack: Path) -> None:
    owner = make_user(runtime.engine())
    with Session(runtime.engine()) as session:
        for number in range(3):
            session.add(Task(id=f"t{number}", owner_id=owner.id, kind="demo",
                             state=TaskState.SUCCESS, notify_email=True))  # fmt: skip
        session.commit()
    sent = [notifications.send_task_finished(f"t{number}") for number in range(3)]
    assert sent[0] and sent[1] and sent[2] is None
    assert len(list(stack.glob("*.eml"))) == 2
    assert notifications.send_task_finished("t1") is not None  # a retried send still goes
