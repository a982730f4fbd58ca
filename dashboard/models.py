"""Tables and the typed shapes that the API, the templates and the events share."""

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel
from sqlalchemy import JSON, Column, DateTime, Index, TypeDecorator, event
from sqlalchemy.engine import Dialect
from sqlmodel import Field, SQLModel

from dashboard.descriptions import searchable_text


class TaskState(StrEnum):
    QUEUED = "QUEUED"
    STARTED = "STARTED"
    PROGRESS = "PROGRESS"
    SUCCESS = "SUCCESS"
    FAILURE = "FAILURE"
    REVOKED = "REVOKED"
    LOST = "LOST"

    @property
    def is_final(self) -> bool:
        return self in FINAL_STATES


RUNNING_STATES = (TaskState.STARTED, TaskState.PROGRESS)
ACTIVE_STATES = (TaskState.QUEUED, *RUNNING_STATES)
FINAL_STATES = (TaskState.SUCCESS, TaskState.FAILURE, TaskState.REVOKED, TaskState.LOST)
# The ends a person may want to try again.
RETRYABLE_STATES = (TaskState.FAILURE, TaskState.REVOKED, TaskState.LOST)


class TaskKind(StrEnum):
    PI = "pi"
    DEMO = "demo"
    CSV = "csv"


# Kinds whose result is a file on disk, which the retention job deletes when it is old.
FILE_KINDS = (TaskKind.PI, TaskKind.CSV)


class UTCDateTime(TypeDecorator[datetime]):
    """Stores UTC and always gives back an aware UTC datetime (SQLite forgets the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


def utc_iso(moment: datetime) -> str:
    """A kept time as the JSON API writes it: ISO 8601, UTC as "Z"."""
    return moment.isoformat().replace("+00:00", "Z")


class User(SQLModel, table=True):
    __tablename__ = "user_account"

    id: int | None = Field(default=None, primary_key=True)
    # Stored lower-cased, so "Ann@Example.com" and "ann@example.com" are one account.
    email: str = Field(max_length=320, unique=True, index=True)
    password_hash: str = Field(max_length=255)
    is_admin: bool = Field(default=False)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class LoginSession(SQLModel, table=True):
    """A browser's login. The cookie holds a random token; only its SHA-256 is stored here."""

    __tablename__ = "login_session"

    token_hash: str = Field(primary_key=True, max_length=64)
    user_id: int = Field(foreign_key="user_account.id", index=True, ondelete="CASCADE")
    # Sent back by the page on every state-changing request (a form field or a header).
    csrf_token: str = Field(max_length=64)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    expires_at: datetime = Field(sa_type=UTCDateTime)


class ApiToken(SQLModel, table=True):
    """A personal token for API clients (Bearer); stored as its SHA-256, shown once."""

    __tablename__ = "api_token"

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="user_account.id", index=True, ondelete="CASCADE")
    name: str = Field(max_length=100)
    token_hash: str = Field(max_length=64, unique=True, index=True)
    # The first characters, so a person can tell tokens apart on the page.
    prefix: str = Field(max_length=16)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    last_used_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    revoked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # None: it lasts until revoked (asked for by name; tokens made before 0007 are so).
    expires_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class Task(SQLModel, table=True):
    """One row per task: id is the Celery task id; a redelivery updates, never adds."""

    # Each list and filter has an index in its own keyset order (finished_at, id), for one
    # owner and for everyone (an admin's view). Search has its own structures per database
    # (migrations 0004 and 0006, dashboard/tasksearch.py), which the models do not describe.
    __table_args__ = (
        Index("ix_task_state_finished", "state", "finished_at", "id"),
        Index("ix_task_owner_queued", "owner_id", "queued_at"),
        Index("ix_task_owner_state_finished", "owner_id", "state", "finished_at", "id"),
        Index("ix_task_finished", "finished_at", "id"),
        Index("ix_task_owner_finished", "owner_id", "finished_at", "id"),
        Index("ix_task_kind_finished", "kind", "finished_at", "id"),
        Index("ix_task_owner_kind_finished", "owner_id", "kind", "finished_at", "id"),
        Index("ix_task_queued", "queued_at", "id"),
    )

    id: str = Field(primary_key=True, max_length=64)
    # Every task started since accounts exist has an owner; older rows keep None.
    owner_id: int | None = Field(default=None)
    kind: str = Field(max_length=32)
    params: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    # The parameters in the words the lists show, which search reads (dashboard.descriptions).
    # Written with the row (params never change after).
    params_text: str = Field(default="")
    state: str = Field(default=TaskState.QUEUED, max_length=16)
    result: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    error: str | None = Field(default=None)
    queued_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    started_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    finished_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    worker: str | None = Field(default=None, max_length=255)
    attempts: int = Field(default=0)
    # The owner asked for an e-mail when the task ends.
    notify_email: bool = Field(default=False)
    # When the retention job deleted the task's file; the row stays, saying so.
    file_expired_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # The task this one repeats, when it was started by "Retry".
    retry_of: str | None = Field(default=None, max_length=64)


@event.listens_for(Task, "before_insert")
def _words_for_search(_mapper: Any, _connection: Any, task: Task) -> None:
    """A row added through the ORM (a test's, a script's) gets its words like every other;
    the app's own writes (dashboard.taskwrites) set them in their statements."""
    if not task.params_text:
        task.params_text = searchable_text(task.kind, task.params)


class Progress(BaseModel):
    percent: float
    intermediate: str | None = None


class TaskView(BaseModel):
    """A task as the page, the API and the event stream show it."""

    id: str
    owner_id: int | None = None
    # The owner's e-mail, which an admin's "all users" view shows beside each task.
    owner: str | None = None
    # Text, not TaskKind: a stored task (or a logged event) of a kind a later version retires
    # must still be read, where the enum would fail every list holding one; and a client
    # generated from the schema would not break on a kind added later.
    kind: str = Field(description="`pi`, `demo` or `csv`, as TaskKind lists them today")
    params: dict[str, Any]
    state: TaskState
    queued_at: datetime
    started_at: datetime | None = None
    finished_at: datetime | None = None
    runtime_seconds: float | None = None
    worker: str | None = None
    attempts: int = 0
    progress: Progress | None = None
    result: dict[str, Any] | None = None
    error: str | None = None
    notify_email: bool = False
    file_expired_at: datetime | None = None
    retry_of: str | None = None

    @property
    def is_final(self) -> bool:
        return self.state.is_final

    @property
    def is_retryable(self) -> bool:
        return self.state in RETRYABLE_STATES

    @classmethod
    def from_row(
        cls, row: Task, progress: Progress | None = None, owner: str | None = None
    ) -> "TaskView":
        runtime = None
        if row.started_at and row.finished_at:
            runtime = (row.finished_at - row.started_at).total_seconds()
        state = TaskState(row.state)
        if progress is not None and state in ACTIVE_STATES:
            state = TaskState.PROGRESS
        return cls(
            id=row.id,
            owner_id=row.owner_id,
            owner=owner,
            kind=row.kind,
            params=row.params,
            state=state,
            queued_at=row.queued_at,
            started_at=row.started_at,
            finished_at=row.finished_at,
            runtime_seconds=runtime,
            worker=row.worker,
            attempts=row.attempts,
            progress=progress if state in ACTIVE_STATES else None,
            result=row.result,
            error=row.error,
            notify_email=row.notify_email,
            file_expired_at=row.file_expired_at,
            retry_of=row.retry_of,
        )


class TaskCreated(BaseModel):
    id: str


class TaskPage(BaseModel):
    items: list[TaskView]
    next_cursor: str | None = None
