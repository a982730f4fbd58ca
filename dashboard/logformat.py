"""One JSON object per log line (LOG_FORMAT=json), for collectors that index fields.

Each line has `time` (UTC, ISO 8601), `level`, `role` (web, worker, beat, supervisor...),
`pid`, `logger` and `message`; `exception` when there is a traceback; and `task_id` and `user`
(the owner's user id) on lines about a task (dashboard.logcontext). A message that spans
lines (a traceback, a task's result) stays one line: JSON escapes its newlines.
"""

import json
import logging
from datetime import UTC, datetime
from typing import Any


class JsonFormatter(logging.Formatter):
    def __init__(self, role: str) -> None:
        super().__init__()
        self.role = role

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "role": self.role,
            "pid": record.process,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if hasattr(record, "task_id"):
            entry["task_id"] = record.task_id
            entry["user"] = getattr(record, "user", None)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            entry["exception"] = record.exc_text
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return json.dumps(entry, default=str)
