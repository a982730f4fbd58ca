"""The one place environment variables are read.

Nothing is read at import time: `get_settings()` builds the settings on first use and caches
them, so tests can set the environment first and call `get_settings.cache_clear()`.
"""

from functools import lru_cache
from pathlib import Path

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"


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
    web_concurrency: int = Field(1, ge=1)
    log_level: str = "INFO"
    # How many events the Redis stream keeps: the window a reconnecting client can resume in.
    event_log_length: int = Field(20_000, ge=100)
    finished_page_size: int = Field(20, ge=1, le=200)

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


@lru_cache
def get_settings() -> Settings:
    return Settings()
