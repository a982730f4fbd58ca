"""A million finished tasks for bench/history.py: made up, but shaped like the real ones.

Rows come from a seeded generator, so every fill holds the same tasks: owners take turns at
random, times run forward over a year (as the table grows in life), and the kinds, states,
parameters, results and errors are those the app writes, in plausible proportions. A few
errors are rare on purpose (a connection reset), so that a search can find a handful of tasks
among a million.

Bulk loading goes around the app: sqlite3's executemany in one transaction on SQLite (the
search triggers of migration 0004 index each row as it lands), COPY on PostgreSQL.
"""

import json
import random
import sqlite3
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg

from dashboard.accounts.passwords import hash_password
from dashboard.descriptions import searchable_text

OWNERS = 50
# A few tasks still queued, of the first owners: the page lists them above the finished ones.
ACTIVE_OWNERS = 5
ACTIVE_PER_OWNER = 2
CHUNK = 20_000
PASSWORD = "bench password"
ADMIN_EMAIL = "bench-admin@example.com"
PI_PREVIEW = "3.1415926535897932384626433832795028841971693993751"
COLUMNS = [
    "id",
    "owner_id",
    "kind",
    "params",
    "params_text",
    "state",
    "result",
    "error",
    "queued_at",
    "started_at",
    "finished_at",
    "worker",
    "attempts",
    "notify_email",
    "file_expired_at",
    "retry_of",
]
RARE_ERROR = "ConnectionResetError: [Errno 104] Connection reset by peer"


def owner_email(number: int) -> str:
    return f"bench-owner-{number:02d}@example.com"


@dataclass(frozen=True)
class Fill:
    tasks: int
    seed: int = 20261124


def rows(fill: Fill, now: datetime) -> Iterator[tuple[Any, ...]]:
    """Finished tasks oldest first over the year before `now`, then a few still active."""
    rng = random.Random(fill.seed)
    start = now - timedelta(days=365)
    step = timedelta(days=365) / fill.tasks
    for number in range(fill.tasks):
        finished_at = start + step * number
        yield _finished_row(rng, rng.randint(1, OWNERS), finished_at, now)
    for owner_id in range(1, ACTIVE_OWNERS + 1):
        for _ in range(ACTIVE_PER_OWNER):
            yield _active_row(rng, owner_id, now)


def _finished_row(
    rng: random.Random, owner_id: int, finished_at: datetime, now: datetime
) -> tuple[Any, ...]:
    task_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
    kind = rng.choices(("pi", "demo", "csv"), weights=(30, 50, 20))[0]
    state = rng.choices(("SUCCESS", "FAILURE", "REVOKED", "LOST"), weights=(80, 12, 5, 3))[0]
    params = _params(rng, kind)
    started_at = finished_at - timedelta(seconds=rng.uniform(0.05, 120))
    succeeded = state == "SUCCESS"
    expired = finished_at + timedelta(days=7)
    return _in_order(
        id=task_id,
        owner_id=owner_id,
        kind=kind,
        params=json.dumps(params),
        params_text=searchable_text(kind, params),
        state=state,
        result=_result(rng, kind, task_id, params) if succeeded else None,
        error=None if succeeded else _error(rng, state, kind, owner_id, params),
        queued_at=started_at - timedelta(seconds=rng.uniform(0, 5)),
        started_at=started_at,
        finished_at=finished_at,
        worker=f"worker-{rng.randint(1000, 9999)}@host-{rng.randint(1, 8)}",
        attempts=1,
        notify_email=rng.random() < 0.1,
        file_expired_at=expired if succeeded and kind != "demo" and expired < now else None,
    )


def _active_row(rng: random.Random, owner_id: int, now: datetime) -> tuple[Any, ...]:
    task_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
    params = _params(rng, "demo")
    return _in_order(
        id=task_id,
        owner_id=owner_id,
        kind="demo",
        params=json.dumps(params),
        params_text=searchable_text("demo", params),
        state="QUEUED",
        queued_at=now - timedelta(seconds=rng.uniform(1, 60)),
        attempts=0,
        notify_email=False,
    )


def _in_order(**values: Any) -> tuple[Any, ...]:
    return tuple(values.get(column) for column in COLUMNS)


def _params(rng: random.Random, kind: str) -> dict[str, Any]:
    if kind == "pi":
        method = "leibniz" if rng.random() < 0.1 else "chudnovsky"
        digits = rng.randint(1, 10) if method == "leibniz" else rng.choice((1000, 100_000, 10**6))
        return {"digits": digits, "method": method}
    if kind == "demo":
        chosen = rng.random() < 0.5
        seconds = rng.choice((1, 2, 3, 5, 7, 10, 30))
        return {"seconds": seconds, "should_fail": rng.random() < 0.2, "chosen_at_random": chosen}
    if rng.random() < 0.3:
        return {"source": "history"}
    return {"source": "sample", "rows": rng.choice((1000, 100_000, 1_000_000, 10_000_000))}


def _result(rng: random.Random, kind: str, task_id: str, params: dict[str, Any]) -> str:
    if kind == "pi":
        digits = params["digits"]
        preview = PI_PREVIEW[: digits + 2]
        result = {**params, "preview": preview, "file": f"files/{task_id}.txt"}
    elif kind == "demo":
        result = {"value": f"slept {params['seconds']:g} s", "seconds": params["seconds"]}
    else:
        count = params.get("rows", rng.randint(10, 20_000))
        result = {"source": params["source"], "rows": count, "bytes": count * 41}
        result["file"] = f"files/{task_id}.csv"
    return json.dumps(result)


def _error(rng: random.Random, state: str, kind: str, owner_id: int, params: dict[str, Any]) -> str:
    if state == "REVOKED":
        return f"cancelled by {owner_email(owner_id)}"
    if state == "LOST":
        return rng.choice(
            (
                "its worker died under it 3 times; it is not run again",
                "lost in a restart: the task queue no longer holds its message",
                f"no heartbeat from its worker worker-{rng.randint(1000, 9999)}@host-"
                f"{rng.randint(1, 8)} for 61 s: the worker is gone and no other worker took "
                "the task up",
            )
        )
    if rng.random() < 0.01:
        return f"{RARE_ERROR} (after row {rng.randint(1, 10**6)})"
    if kind == "demo":
        return f"DemoFailure: the demo task failed as asked, after {params['seconds']:g} s"
    if kind == "pi":
        return "MemoryError: cannot allocate the digits"
    return f"OSError: [Errno 28] No space left on device (row {rng.randint(1, 10**7)})"


def users(now: datetime) -> list[tuple[Any, ...]]:
    """The owners (ids 1 to OWNERS) and one admin who owns nothing, all with one password."""
    password_hash = hash_password(PASSWORD)
    people = [(number, owner_email(number), False) for number in range(1, OWNERS + 1)]
    people.append((OWNERS + 1, ADMIN_EMAIL, True))
    return [(number, email, password_hash, admin, now) for number, email, admin in people]


def fill_sqlite(path: str, fill: Fill) -> None:
    """Loads users and tasks into a migrated SQLite file, in one transaction.

    The search index is built once at the end ('rebuild', about 15 times faster than a
    trigger per row); the insert trigger is put back exactly as the migration made it.
    """
    now = datetime.now(UTC)
    connection = sqlite3.connect(path)
    try:
        connection.execute("PRAGMA synchronous=OFF")
        with connection:
            trigger = _sqlite_sql(connection, "task_search_insert")
            connection.execute("DROP TRIGGER task_search_insert")
            connection.executemany(_insert_users("?"), [_sqlite_row(row) for row in users(now)])
            statement = _insert_tasks("?")
            for chunk in _chunks(rows(fill, now)):
                connection.executemany(statement, [_sqlite_row(row) for row in chunk])
            connection.execute("INSERT INTO task_search(task_search) VALUES ('rebuild')")
            connection.execute(trigger)
    finally:
        connection.close()


def _sqlite_sql(connection: sqlite3.Connection, name: str) -> str:
    found = connection.execute("SELECT sql FROM sqlite_master WHERE name = ?", (name,)).fetchone()
    if found is None:
        raise SystemExit(f"the database has no {name}: is it migrated to 0004?")
    return str(found[0])


def fill_postgresql(url: str, fill: Fill) -> None:
    """Loads users and tasks into a migrated PostgreSQL database with COPY.

    The task indexes are dropped for the load and made again after it from their own
    definitions (pg_indexes), which is several times faster than keeping them up per row.
    """
    now = datetime.now(UTC)
    with psycopg.connect(url) as connection:
        connection.cursor().executemany(_insert_users("%s"), users(now))
        definitions = _drop_task_indexes(connection)
        with connection.cursor().copy(f"COPY task ({', '.join(COLUMNS)}) FROM STDIN") as copy:
            for row in rows(fill, now):
                copy.write_row(row)
        for definition in definitions:
            connection.execute(definition)  # type: ignore[arg-type]
        connection.execute("SELECT setval('user_account_id_seq', %s)", (OWNERS + 1,))
    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute("VACUUM ANALYZE")


def _drop_task_indexes(connection: psycopg.Connection[Any]) -> list[str]:
    """Drops the task table's indexes but its primary key; returns their definitions."""
    found = connection.execute(
        "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'task' "
        "AND indexname NOT IN (SELECT conname FROM pg_constraint WHERE contype = 'p')"
    ).fetchall()
    for name, _ in found:
        connection.execute(f'DROP INDEX "{name}"')  # type: ignore[arg-type]
    return [definition for _, definition in found]


def _insert_users(marker: str) -> str:
    names = "id, email, password_hash, is_admin, created_at"
    return f"INSERT INTO user_account ({names}) VALUES ({', '.join([marker] * 5)})"


def _insert_tasks(marker: str) -> str:
    return f"INSERT INTO task ({', '.join(COLUMNS)}) VALUES ({', '.join([marker] * len(COLUMNS))})"


def _sqlite_row(row: tuple[Any, ...]) -> tuple[Any, ...]:
    """Times as SQLAlchemy stores them in SQLite: UTC text without a zone."""
    return tuple(
        value.isoformat(" ", "microseconds")[:26] if isinstance(value, datetime) else value
        for value in row
    )


def _chunks(source: Iterator[tuple[Any, ...]]) -> Iterator[list[tuple[Any, ...]]]:
    chunk: list[tuple[Any, ...]] = []
    for row in source:
        chunk.append(row)
        if len(chunk) == CHUNK:
            yield chunk
            chunk = []
    if chunk:
        yield chunk
