"""Thin Celery tasks: parameters in, progress out; the logic lives in dashboard.jobs."""

import logging
import smtplib
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from celery import Task
from celery.exceptions import Ignore, Retry

from dashboard import (
    artifacts,
    diskroom,
    lifecycle,
    logcontext,
    notifications,
    retention,
    retrying,
    runguard,
    taskrequest,
)
from dashboard.jobs.csvexport import write_sample
from dashboard.jobs.demo import DemoFailure, run_demo
from dashboard.jobs.history import export_history
from dashboard.jobs.pi import PiMethod, compute_pi
from dashboard.mail import MailConfigError
from dashboard.progress import ProgressThrottle
from dashboard.settings import get_settings
from dashboard.worker import app

log = logging.getLogger(__name__)

PREVIEW_DIGITS = 50
# A sample row's size in the file, rounded up (10,000,000 rows measured 479 MB).
SAMPLE_ROW_BYTES = 50
RECHECK_SECONDS = 30


class TrackedTask(Task[Any, Any]):
    """Runs a task only while holding its run claim, so no two runs overlap (the claim is let
    go once the end is recorded). Skips a redelivered message whose task has already ended,
    or whose task has brought its worker down too often (it is given up as LOST)."""

    max_retries = None  # only the run claim retries: for as long as a live run holds it
    Request = "dashboard.taskrequest:OwnedRequest"  # notes the owner the message names

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        task_id = self.request.id
        if not task_id:
            return super().__call__(*args, **kwargs)
        self._start(task_id, kwargs)
        try:
            result = super().__call__(*args, **kwargs)
        except (Ignore, Retry):
            raise
        except Exception as error:
            self._end(task_id, kwargs, error, succeeded=False)
            raise
        self._end(task_id, kwargs, result, succeeded=True)
        return result

    def _end(self, task_id: str, kwargs: dict[str, Any], outcome: Any, *, succeeded: bool) -> None:
        try:
            lifecycle.record_end(task_id, self, kwargs, outcome, succeeded=succeeded)
        except lifecycle.EndNotRecorded as failure:
            # The work is done; only its record is missing. A message carries the end to any
            # worker that can write it, once the database is back: acknowledged here, the
            # row stayed STARTED for ever, its claim let go, so no sweep would close it.
            log.error("%s; a message will record it", failure)
            end = failure.record.model_dump(mode="json")
            record_end_later.apply_async(args=(end,), countdown=RECHECK_SECONDS)

    def _start(self, task_id: str, kwargs: dict[str, Any]) -> None:
        # Celery's task context carries the message's own headers as its items.
        owner = taskrequest.owner_in(self.request.get(taskrequest.OWNER_HEADER))
        logcontext.bind_worker_task(task_id, owner)  # log lines from here name task and owner
        worker = lifecycle.worker_name(self)
        claimed = retrying.through_redis_outages(
            lambda: runguard.guard.claim(task_id, worker), f"claiming {task_id}"
        )
        if not claimed:
            # A live run holds it. Look again later rather than drop the message: should that
            # run die, this copy is what runs the task again.
            raise self.retry(countdown=RECHECK_SECONDS)
        # However the run ends, skipped included, task_postrun lets go of the claim.
        if not self._begin(task_id, kwargs):
            raise Ignore()

    def _begin(self, task_id: str, kwargs: dict[str, Any]) -> bool:
        try:
            return lifecycle.begin(task_id, self, kwargs)
        except retrying.DATABASE_UNREACHABLE as error:
            # The start could not be recorded, through the retries: this worker may be cut
            # off from the database. Queued again, for any worker, rather than acknowledged
            # and lost with its row QUEUED for ever (a scale-out probe lost three so).
            log.error("task %s could not be started here; queued again: %s", task_id, error)
            raise self.retry(countdown=RECHECK_SECONDS) from error


@contextmanager
def progress_reporter(task: Task[Any, Any]) -> Iterator[ProgressThrottle]:
    throttle = ProgressThrottle(
        lambda percent, value: lifecycle.report_progress(task, percent, value)
    )
    try:
        yield throttle
    finally:
        throttle.flush()


@app.task(bind=True, base=TrackedTask, name="dashboard.pi")
def pi_task(self: Task[Any, Any], digits: int, method: str = PiMethod.CHUDNOVSKY) -> dict[str, Any]:
    _ensure_room(digits + len("3.\n"))  # before the work, which may take an hour
    with progress_reporter(self) as report:
        text = compute_pi(digits, PiMethod(method), report)
    path = artifacts.write_digits(self.request.id or "", text)
    return {
        "digits": digits,
        "method": method,
        "preview": text[: PREVIEW_DIGITS + 1],  # "3." and 49 decimals: 50 digits
        "file": artifacts.relative_to_state_dir(path),
    }


# A demo that fails as asked (or as its coin toss chose) does what it was meant to: Celery logs
# an expected exception at INFO, without the traceback it gives an error, which made real
# errors hard to find among them. The task still ends FAILURE, with its reason.
@app.task(bind=True, base=TrackedTask, name="dashboard.demo", throws=(DemoFailure,))
def demo_task(
    self: Task[Any, Any], seconds: float, should_fail: bool, chosen_at_random: bool = False
) -> dict[str, Any]:
    with progress_reporter(self) as report:
        return dict(run_demo(seconds, should_fail, report, chosen_at_random=chosen_at_random))


@app.task(bind=True, base=TrackedTask, name="dashboard.csv")
def csv_task(self: Task[Any, Any], source: str, rows: int | None = None) -> dict[str, Any]:
    """A sample data set of `rows` rows, or the owner's task history, streamed to a file."""
    task_id = self.request.id or ""
    path = artifacts.csv_path(task_id)
    with progress_reporter(self) as report:
        if source == "history":
            _ensure_room(0)  # its size is not known beforehand: the reserve at least
            summary = export_history(task_id, path, report)
        else:
            _ensure_room(int(rows or 0) * SAMPLE_ROW_BYTES)
            # Seeded by the task id: a re-run after a crash writes the very same file.
            summary = write_sample(path, int(rows or 0), task_id, report)
    return {
        "source": source,
        "rows": summary.rows,
        "bytes": summary.bytes,
        "file": artifacts.relative_to_state_dir(path),
    }


def _ensure_room(needed_bytes: int) -> None:
    settings = get_settings()
    diskroom.ensure_room(settings.files_dir, needed_bytes, settings.files_kept_free_bytes)


@app.task(bind=True, name="dashboard.mail.task_finished", acks_late=True)
def mail_task_finished(self: Task[Any, Any], task_id: str) -> str | None:
    """E-mails a task's owner that it ended; retried with backoff while the server fails."""
    settings = get_settings()
    try:
        return notifications.send_task_finished(task_id)
    except MailConfigError as error:  # retrying cannot fix a wrong SMTP_URL
        log.error("cannot send e-mail: %s", error)
        return None
    except (OSError, smtplib.SMTPException) as error:
        delay = settings.mail_retry_seconds * 2**self.request.retries
        log.warning("e-mail about task %s failed (%s); retrying in %.0f s", task_id, error, delay)
        raise self.retry(
            exc=error, countdown=delay, max_retries=settings.mail_max_retries
        ) from error


@app.task(bind=True, name="dashboard.ends.record", max_retries=None)
def record_end_later(self: Task[Any, Any], end: dict[str, Any]) -> None:
    """Records a task's end that its worker could not (its database away past the retries);
    tries again until the database is back."""
    record = lifecycle.EndRecord.model_validate(end)
    try:
        lifecycle.write_end(record, late=True)
    except retrying.DATABASE_UNREACHABLE as error:
        log.warning("the end of %s is still not recorded: %s", record.task_id, error)
        raise self.retry(countdown=RECHECK_SECONDS) from error


@app.task(name="dashboard.files.expire")
def expire_files() -> int:
    return retention.sweep()
