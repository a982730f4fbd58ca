"""The export of one user's task history as CSV, streamed from SQL in batches."""

import json
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from sqlmodel import Session

from dashboard import crud, runtime
from dashboard.descriptions import params_text
from dashboard.jobs.csvexport import CsvSummary, ProgressCallback, write_records
from dashboard.models import Task, utc_iso

HISTORY_HEADER = (
    "id",
    "kind",
    "state",
    "parameters",
    "described",
    "queued_at",
    "started_at",
    "finished_at",
    "runtime_seconds",
    "attempts",
    "error",
)


def export_history(task_id: str, path: Path, progress: ProgressCallback) -> CsvSummary:
    """Every task of the owner of `task_id` (this export itself included), oldest first."""
    with Session(runtime.engine()) as session:
        this = crud.get_task(session, task_id=task_id)
        if this is None or this.owner_id is None:
            raise LookupError(f"task {task_id} has no owner whose history to export")
        total = crud.count_of(session, owner_id=this.owner_id)
        records = (_record(row) for row in crud.history_of(session, owner_id=this.owner_id))
        return write_records(path, HISTORY_HEADER, records, total, progress)


def _record(row: Task) -> Sequence[object]:
    runtime_seconds = None
    if row.started_at and row.finished_at:
        runtime_seconds = round((row.finished_at - row.started_at).total_seconds(), 3)
    return (
        row.id,
        row.kind,
        row.state,
        json.dumps(row.params, sort_keys=True),  # for a program
        params_text(row.kind, row.params),  # for a person: as the lists show them
        _iso(row.queued_at),
        _iso(row.started_at),
        _iso(row.finished_at),
        runtime_seconds,
        row.attempts,
        row.error,
    )


def _iso(moment: datetime | None) -> str | None:
    # As the JSON API writes a time, so a program can match the two.
    return None if moment is None else utc_iso(moment)
