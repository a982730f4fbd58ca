"""Deletes the files of tasks older than the retention setting; their rows say so.

Run by Celery beat (`dashboard run` starts it) every FILE_SWEEP_SECONDS. The row is marked
before the page hears of it, so a download of an expired file answers 410, never a 500.
"""

import logging
from datetime import timedelta

from sqlmodel import Session

from dashboard import artifacts, crud, endings, runtime
from dashboard.models import utcnow
from dashboard.settings import get_settings

log = logging.getLogger(__name__)
BATCH = 500


def expire_old_files() -> int:
    """Deletes one batch of expired files; returns how many tasks it expired."""
    retention = timedelta(hours=get_settings().file_retention_hours)
    expired = 0
    with Session(runtime.engine(), expire_on_commit=False) as session:
        for row in crud.files_to_expire(session, finished_before=utcnow() - retention, limit=BATCH):
            path = artifacts.file_of(row.result)
            if path is not None:
                path.unlink(missing_ok=True)
            marked = crud.mark_file_expired(session, task_id=row.id)
            if marked is not None:
                endings.announce(session, marked)
                expired += 1
    if expired:
        log.info("deleted the files of %d tasks older than %s", expired, retention)
    return expired
