"""Settings that cannot work are refused at start, in one line that names the variable."""

import pytest
from pydantic import ValidationError

from dashboard.settings import Settings, describe_invalid


@pytest.mark.parametrize(
    ("given", "used"),
    [
        ("postgres://me:p%40ss@db:5432/app", "postgresql+psycopg://me:p%40ss@db:5432/app"),
        ("postgresql://me@db/app", "postgresql+psycopg://me@db/app"),
        ("postgresql+psycopg://me@db/app", "postgresql+psycopg://me@db/app"),
        ("sqlite:///var/dashboard.db", "sqlite:///var/dashboard.db"),
    ],
)
def test_postgres_urls_as_others_write_them_mean_the_installed_driver(
    given: str, used: str
) -> None:
    """postgres:// (Heroku's spelling) was a 46-line traceback: no dialect of that name."""
    assert Settings(database_url=given).database_url == used


@pytest.mark.parametrize(
    ("variables", "said"),
    [
        ({"database_url": "notaurl"}, "DATABASE_URL: not a database URL, e.g. postgresql+psycopg"),
        ({"database_url": "mysql://me:hunter2@db/app"}, "DATABASE_URL: use one of sqlite, post"),
        ({"redis_url": "localhost:6379"}, "REDIS_URL: a Redis URL starts with redis://"),
        ({"log_level": "verbose"}, "LOG_LEVEL: choose one of DEBUG, INFO, WARNING"),
    ],
)
def test_a_setting_that_cannot_work_is_named_in_one_line_without_its_value(
    variables: dict[str, str], said: str
) -> None:
    with pytest.raises(ValidationError) as refused:
        Settings(**variables)  # type: ignore[arg-type]
    line = describe_invalid(refused.value)
    assert line.startswith(said) and "\n" not in line
    assert "hunter2" not in line and all(value not in line for value in variables.values())


def test_a_log_level_is_taken_in_any_case() -> None:
    assert Settings(log_level="debug").log_level == "DEBUG"
