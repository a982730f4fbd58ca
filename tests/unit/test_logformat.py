"""LOG_FORMAT=json: one JSON object per line, with the task a line is about."""

import json
import logging
import logging.config
import sys
from collections.abc import Iterator

import pytest
from sse_starlette.sse import SendTimeoutError

from dashboard import logcontext
from dashboard.cli import logging_config
from dashboard.logformat import JsonFormatter


def record(message: str, *args: object, **extra: object) -> logging.LogRecord:
    made = logging.LogRecord("dashboard.example", logging.WARNING, __file__, 1, message, args, None)
    made.__dict__.update(extra)
    return made


def test_a_line_has_time_level_role_pid_logger_and_message() -> None:
    line = JsonFormatter(role="worker").format(record("task %s took %d s", "t1", 3))
    entry = json.loads(line)
    assert entry.pop("time").endswith("+00:00")  # UTC, ISO 8601
    assert entry == {
        "level": "WARNING",
        "role": "worker",
        "pid": record("x").process,
        "logger": "dashboard.example",
        "message": "task t1 took 3 s",
    }


def test_a_line_about_a_task_names_it_and_its_owner() -> None:
    entry = json.loads(JsonFormatter("web").format(record("queued", task_id="t1", user=7)))
    assert (entry["task_id"], entry["user"]) == ("t1", 7)


def test_an_exception_and_a_message_on_several_lines_stay_one_line() -> None:
    try:
        raise ValueError("bad\nvalue")
    except ValueError:
        failing = logging.LogRecord(
            "x", logging.ERROR, __file__, 1, "first\nsecond", None, sys.exc_info()
        )
    line = JsonFormatter("worker").format(failing)
    assert "\n" not in line
    entry = json.loads(line)
    assert entry["message"] == "first\nsecond"
    assert entry["exception"].startswith("Traceback (most recent call last)")
    assert entry["exception"].endswith("ValueError: bad\nvalue")


@pytest.fixture
def configured_root() -> Iterator[None]:
    """Leaves the root logger as it found it (dictConfig replaces its handlers)."""
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    yield
    root.handlers[:] = saved[0]
    root.setLevel(saved[1])


def test_the_json_setting_formats_every_process_and_tags_task_lines(
    configured_root: None, capsys: pytest.CaptureFixture[str]
) -> None:
    logging.config.dictConfig(logging_config("beat", "INFO", "json"))
    log = logging.getLogger("dashboard.anything")
    log.info("not about a task")
    with logcontext.about_task("t9", 4):
        log.info("about task t9")
    first, second = (json.loads(line) for line in capsys.readouterr().err.splitlines())
    assert first["role"] == "beat" and "task_id" not in first
    assert (second["message"], second["task_id"], second["user"]) == ("about task t9", "t9", 4)


def test_plain_stays_the_default(configured_root: None, capsys: pytest.CaptureFixture[str]) -> None:
    logging.config.dictConfig(logging_config("web", "INFO"))
    logging.getLogger("dashboard.anything").info("hello")
    (line,) = capsys.readouterr().err.splitlines()
    assert line.endswith(f"INFO    web[{record('x').process}] dashboard.anything: hello")


def log_a_dropped_stream_as_uvicorn_does() -> None:
    error = SendTimeoutError("its client took nothing for 10 s")
    logging.getLogger("uvicorn.error").error("Exception in ASGI application\n", exc_info=error)


def test_the_web_logs_a_dropped_event_stream_as_one_warning_line(
    configured_root: None, capsys: pytest.CaptureFixture[str]
) -> None:
    logging.config.dictConfig(logging_config("web", "INFO"))
    log_a_dropped_stream_as_uvicorn_does()
    (line,) = capsys.readouterr().err.splitlines()
    pid = record("x").process
    message = "dropped an event stream: its client took nothing for 10 s"
    assert line.endswith(f"WARNING web[{pid}] uvicorn.error: {message}")
    # Any other exception keeps its traceback.
    try:
        raise ValueError("a real bug")
    except ValueError:
        logging.getLogger("uvicorn.error").exception("Exception in ASGI application")
    lines = capsys.readouterr().err.splitlines()
    assert "ERROR" in lines[0] and lines[-1] == "ValueError: a real bug"
