"""The one place environment variables are read.

Nothing is read at import time: `get_settings()` builds the settings on first use and caches
them, so tests can set the environment first and call `get_settings.cache_clear()`.
"""

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
# The drivers this project installs: `postgres://` (as Heroku and others write it) and a bare
# `postgresql://` mean psycopg 3 here, not psycopg2, which is not installed.
POSTGRES_SCHEMES = ("postgres", "postgresql")
DATABASE_DRIVERS = ("sqlite", "postgresql+psycopg")
REDIS_SCHEMES = ("redis://", "rediss://", "unix://")
EXAMPLE_DATABASE_URL = "postgresql+psycopg://user@host/db"
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore", populate_by_name=True)

    host: str = "127.0.0.1"
    port: int = Field(8000, ge=1, le=65535)
    state_dir: Path = Field(
        Path("var"), validation_alias=AliasChoices("DASHBOARD_STATE_DIR", "state_dir")
    )
    redis_url: str | None = None
    database_url: str | None = None
    celery_broker_url: str | None = None
    worker_concurrency: int = Field(2, ge=1)
    # The worker's Celery node name ("%h" is the host's name). Unset, worker-<pid>@<host>, so
    # that two workers on one host never share a name; `dashboard run` names its one worker.
    worker_name: str | None = Field(None, min_length=1)
    web_concurrency: int = Field(1, ge=1)
    log_level: str = "INFO"
    # "json": one JSON object per line (dashboard.logformat), for a log collector.
    log_format: Literal["plain", "json"] = "plain"
    # How many events the Redis stream keeps: the window a reconnecting client can resume in.
    event_log_length: int = Field(20_000, ge=100)
    finished_page_size: int = Field(20, ge=1, le=200)
    # A task whose worker died under it this many times is given up as LOST, not run again
    # (a task that kills its worker would otherwise take workers down for ever).
    task_max_attempts: int = Field(3, ge=1)
    # A running task whose heartbeat has been silent this long, with no worker running it, is
    # closed as LOST. A dead worker's tasks run again well within it (about 15 s at most).
    task_lost_after_seconds: float = Field(60, gt=0)
    lost_sweep_seconds: float = Field(5, gt=0)
    # Database connections each process keeps open, and how many more it may open when busy.
    db_pool_size: int = Field(5, ge=1)
    db_max_overflow: int = Field(10, ge=0)
    # How long the worker keeps retrying to record a task's state while the database is away.
    db_retry_seconds: float = Field(120, gt=0)
    # Larger request bodies are refused with 413 (nothing the app takes comes near it).
    max_body_bytes: int = Field(64 * 1024, ge=1024)
    # A user with this many tasks queued or running starts no more until some end
    # (dashboard.quotas): one account cannot fill the queue in front of everyone else's.
    user_max_active_tasks: int = Field(100, ge=1)
    # Event streams one user may hold open on one web process (each costs about 20 KB).
    user_max_streams: int = Field(50, ge=1)
    # Live API tokens one user may hold (each a standing way in: a limit, not a quota).
    user_max_tokens: int = Field(50, ge=1)
    # Accounts.
    session_hours: float = Field(14 * 24, gt=0)
    login_max_failures: int = Field(5, ge=1)
    login_window_seconds: int = Field(15 * 60, ge=1)
    # Failed logins in a row to one account, from any address (dashboard.accounts.throttle).
    login_account_max_failures: int = Field(100, ge=1)
    # Registrations (made or refused as taken) per address per window: each costs an argon2
    # hash, and each "exists already" answer tells whether an e-mail has an account.
    register_max_attempts: int = Field(10, ge=1)
    register_window_seconds: int = Field(60 * 60, ge=1)
    # Files tasks make are deleted this long after the task finished, by a sweep this often.
    file_retention_hours: float = Field(7 * 24, gt=0)
    # Room a task's file must leave free on its disk (the database and Redis share it).
    files_min_free_mb: int = Field(100, ge=0)
    file_sweep_seconds: float = Field(600, gt=0)
    # E-mail: SMTP_URL (smtp://, smtp+starttls:// or smtps://) or, unset, the outbox folder.
    smtp_url: str | None = None
    mail_from: str = "dashboard@localhost"
    mail_retry_seconds: float = Field(30, gt=0)
    mail_max_retries: int = Field(8, ge=0)
    # E-mails about tasks to one user in an hour (addresses are not confirmed; see notifications).
    mail_max_per_hour: int = Field(30, ge=1)
    # Where links in e-mails point; the address the web listens on when unset.
    public_url: str | None = None

    # A wrong address or level was a traceback of 40 to 120 lines from whichever library first
    # used it (operator probe); now it is one "invalid settings" line naming the variable.
    @field_validator("database_url")
    @classmethod
    def _a_database_we_can_use(cls, url: str | None) -> str | None:
        if url is None:
            return None
        try:
            parsed = make_url(url)
        except ArgumentError as error:
            raise ValueError(f"not a database URL, e.g. {EXAMPLE_DATABASE_URL}") from error
        if parsed.drivername in POSTGRES_SCHEMES:
            return parsed.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)
        if parsed.drivername not in DATABASE_DRIVERS:
            raise ValueError(f"use one of {', '.join(DATABASE_DRIVERS)} (not {parsed.drivername})")
        return url

    @field_validator("redis_url")
    @classmethod
    def _a_redis_url(cls, url: str | None) -> str | None:
        if url is not None and not url.startswith(REDIS_SCHEMES):
            raise ValueError(f"a Redis URL starts with {', '.join(REDIS_SCHEMES)}")
        return url

    @field_validator("log_level")
    @classmethod
    def _a_log_level(cls, level: str) -> str:
        if level.upper() not in LOG_LEVELS:
            raise ValueError(f"choose one of {', '.join(LOG_LEVELS)}")
        return level.upper()

    @property
    def effective_redis_url(self) -> str:
        return self.redis_url or DEFAULT_REDIS_URL

    @property
    def broker_url(self) -> str:
        return self.celery_broker_url or self.effective_redis_url

    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.state_dir.resolve() / 'dashboard.db'}"

    @property
    def files_dir(self) -> Path:
        return self.state_dir.resolve() / "files"

    @property
    def files_kept_free_bytes(self) -> int:
        return self.files_min_free_mb * 1024 * 1024

    @property
    def outbox_dir(self) -> Path:
        return self.state_dir.resolve() / "outbox"

    @property
    def base_url(self) -> str:
        return (self.public_url or f"http://{self.host}:{self.port}").rstrip("/")


@lru_cache
def get_settings() -> Settings:
    return Settings()


def describe_invalid(error: ValidationError) -> str:
    """One line naming each wrong variable and why, without the value: a URL holds a password."""
    return "; ".join(
        f"{'.'.join(str(part) for part in item['loc']).upper()}: "
        f"{str(item['msg']).removeprefix('Value error, ')}"
        for item in error.errors()
    )
