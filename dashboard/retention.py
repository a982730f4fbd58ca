"""Deletes the files of tasks older than the retention setting; their rows say so.

Run by Celery beat (`dashboard run` starts it) every FILE_SWEEP_SECONDS. The row is marked
before the page hears of it, so a download of an expired file answers 410, never a 500.

Files no row will expire are swept too, by age: a partial file whose writer died without
removing it (a worker killed), and a file whose task was never recorded a success (its end
lost). Either would hold its space for ever.
"""

import logging
import time
from datetime import timedelta
from pathlib import Path

from sqlmodel import Session

from dashboard import artifacts, crud, endings, runtime
from dashboard.atomicfile import PARTIAL_SUFFIX
from dashboard.models import utcnow
from dashboard.settings import get_settings

log = logging.getLogger(__name__)
BATCH = 500
# Nothing writes a file this long without touching it: a CSV export writes all the time, and
# pi writes its digits at once when they are done.
PARTIAL_ABANDONED_AFTER = timedelta(hours=1)
# Past the retention, the rows' sweep deletes a task's file within a few runs; a file a day
# older than that has no row to expire it.
UNCLAIMED_GRACE = timedelta(days=1)


def sweep() -> int:
    """Expires old files, then removes abandoned ones; returns how many tasks it expired."""
    expired = expire_old_files()
    settings = get_settings()
    if settings.files_dir.is_dir():
        lifetime = timedelta(hours=settings.file_retention_hours)
        remove_abandoned_files(settings.files_dir, lifetime)
    return expired


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


def remove_abandoned_files(files_dir: Path, retention: timedelta) -> int:
    """Deletes partial files no writer has touched for an hour, and any file a day past the
    retention; returns how many."""
    now = time.time()
    removed = 0
    for path in files_dir.glob("*"):
        try:
            age = timedelta(seconds=now - path.stat().st_mtime)
        except FileNotFoundError:
            continue  # renamed into place or removed meanwhile
        partial = path.name.endswith(PARTIAL_SUFFIX)
        if age > (PARTIAL_ABANDONED_AFTER if partial else retention + UNCLAIMED_GRACE):
            path.unlink(missing_ok=True)
            removed += 1
    if removed:
        log.info("deleted %d abandoned files from %s", removed, files_dir)
    return removed
