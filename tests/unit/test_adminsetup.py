"""`dashboard create-admin`: what it says when it cannot make an admin; a reset's ends."""

import io
from pathlib import Path

import pytest
from redis import Redis
from sqlalchemy import Engine
from sqlmodel import Session

from dashboard import migrate
from dashboard.accounts import sessions, tokens, users
from dashboard.adminsetup import AdminSetupError, reset_password, setup_admin
from dashboard.db import make_engine
from dashboard.events import STREAM_KEY
from dashboard.redisserver import EmbeddedRedis
from dashboard.settings import Settings
from tests.accounts import make_user


def migrated(state_dir: Path, redis_url: str | None = None) -> tuple[Settings, Engine]:
    """Settings on a migrated SQLite file in `state_dir`, and an engine on it."""
    database_url = f"sqlite:///{state_dir / 'dashboard.db'}"
    settings = Settings(state_dir=state_dir, database_url=database_url, redis_url=redis_url)
    migrate.upgrade(database_url)
    return settings, make_engine(database_url)


def test_a_mistyped_address_is_said_before_a_password_is_asked_for(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'dashboard.db'}")
    migrate.upgrade(settings.effective_database_url)
    monkeypatch.setattr("sys.stdin.isatty", lambda: False)  # as under a script: no terminal
    with pytest.raises(AdminSetupError, match=r"^email: An email address must have an @-sign"):
        setup_admin(settings, "not an email", password_stdin=False)


def test_a_password_reset_ends_every_login_of_the_account(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, redis_server: EmbeddedRedis
) -> None:
    """After a loss or a theft: the old sessions and tokens stop working, and the streams they
    opened are told so through the event log."""
    settings, engine = migrated(tmp_path, redis_server.url)
    user = make_user(engine)
    before = Redis.from_url(redis_server.url).xlen(STREAM_KEY)
    monkeypatch.setattr("sys.stdin", io.StringIO("a brand new passphrase\n"))
    said = setup_admin(settings, user.email, password_stdin=True)
    expected = "; password replaced, 1 session ended and 1 API token revoked"
    assert said.endswith(f"{expected}, with their event streams")
    with Session(engine) as session:
        assert sessions.find(session, cookie=user.cookie) is None
        assert tokens.find(session, plain=user.token) is None
        assert users.authenticate(session, email=user.email, password="a brand new passphrase")
    assert Redis.from_url(redis_server.url).xlen(STREAM_KEY) == before + 2
    engine.dispose()


def test_promoting_without_a_new_password_ends_nothing(tmp_path: Path) -> None:
    settings, engine = migrated(tmp_path)
    user = make_user(engine)
    assert setup_admin(settings, user.email, password_stdin=False) == f"made admin {user.email}"
    with Session(engine) as session:
        assert sessions.find(session, cookie=user.cookie) is not None
    engine.dispose()


def test_a_reset_replaces_the_password_and_ends_logins_but_leaves_the_role(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, redis_server: EmbeddedRedis
) -> None:
    """create-admin with a password was the only reset, and it made the account an admin
    (operator probe)."""
    settings, engine = migrated(tmp_path, redis_server.url)
    user = make_user(engine)
    monkeypatch.setattr("sys.stdin", io.StringIO("a brand new passphrase\n"))
    said = reset_password(settings, user.email.upper(), password_stdin=True)
    assert said == (
        f"reset the password of {user.email}; password replaced, 1 session ended and "
        "1 API token revoked, with their event streams"
    )
    with Session(engine) as session:
        found = users.authenticate(session, email=user.email, password="a brand new passphrase")
        assert found is not None and not found.is_admin
        assert sessions.find(session, cookie=user.cookie) is None
    engine.dispose()


def test_a_reset_of_an_unknown_account_or_to_a_short_password_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings, engine = migrated(tmp_path)
    user = make_user(engine)
    engine.dispose()
    with pytest.raises(AdminSetupError, match=r"^no account has the e-mail nobody@example\.com$"):
        reset_password(settings, "nobody@example.com", password_stdin=True)
    monkeypatch.setattr("sys.stdin", io.StringIO("tiny\n"))
    with pytest.raises(AdminSetupError, match=r"^password: use at least \d+ characters$"):
        reset_password(settings, user.email, password_stdin=True)


def test_a_short_password_typed_at_the_terminal_is_refused_before_it_is_asked_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings, engine = migrated(tmp_path)
    user = make_user(engine)
    engine.dispose()
    asked: list[str] = []

    def typed(prompt: str) -> str:
        asked.append(prompt)
        return "tiny"

    monkeypatch.setattr("sys.stdin.isatty", lambda: True)
    monkeypatch.setattr("getpass.getpass", typed)
    with pytest.raises(AdminSetupError, match=r"^password: use at least \d+ characters$"):
        reset_password(settings, user.email, password_stdin=False)
    assert asked == ["Password for the account: "]
