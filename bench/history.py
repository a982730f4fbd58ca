"""Times the Finished list at a million tasks, on SQLite and (when it answers) PostgreSQL.

Each database is filled once with 1,000,000 finished tasks of 50 owners (bench/historydata.py)
and kept for the next run: the SQLite file under bench/.cache, the PostgreSQL database by name,
both keyed by the schema (the newest migration) and the data's version, so a new migration
fills afresh. `--refill` fills anyway; `--drop` removes what is kept.

The real app runs in-process (create_app with its lifespan: the event-log reader, the host
sampler, a private redis-server), and each request is one ASGI call, so what is timed is the
app and its database, not a network. For each viewer, an owner of about 20,000 tasks and an
admin seeing everyone's (scope=all), each case is asked RUNS times after two warm-ups:

- the page (GET /): its first byte, i.e. the page rendered whole;
- a further page of the list (GET /fragments/finished with a cursor);
- a state filter and a kind filter, a search by id prefix, and by text, rare and common.

Goals: medians of 50 ms for the page and a page of the list, 100 ms for a filter or a search.
Prints a table, writes bench/results/history.json, and exits 1 if a goal is missed.
"""

import argparse
import asyncio
import json
import platform
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import make_url
from sqlmodel import Session

from dashboard import crud, migrate
from dashboard.accounts import sessions
from dashboard.accounts.viewer import SESSION_COOKIE
from dashboard.app import create_app
from dashboard.models import FINAL_STATES
from dashboard.redisserver import EmbeddedRedis
from dashboard.settings import Settings

try:  # `python bench/history.py`, or `bench/run.py` importing it as part of the bench package
    import historydata  # type: ignore[import-not-found]
except ModuleNotFoundError:
    from bench import historydata

HERE = Path(__file__).resolve().parent
CACHE = HERE / ".cache"
RESULTS = HERE / "results" / "history.json"
DATA_VERSION = 3  # bump when bench/historydata.py makes different rows
POSTGRES_ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
RUNS = 20
WARM_UPS = 2
PAGE_GOAL_MS = 50.0
FILTER_GOAL_MS = 100.0
OWNER_ID = 1
RARE_TEXT = "connection reset"
COMMON_TEXT = "chudnovsky"
SHOWN_WORDS = "10,000,000 sample rows"  # as the list shows a task's parameters
# One of the owner's tasks a quarter of the way through their history.
SAMPLE_TASK = text(
    "SELECT id FROM task WHERE owner_id = :owner ORDER BY finished_at LIMIT 1 "
    "OFFSET (SELECT count(*) / 4 FROM task WHERE owner_id = :owner)"
)


@dataclass(frozen=True)
class Case:
    name: str
    path: str
    goal_ms: float
    fragment: bool = True


def measure() -> list[dict[str, Any]]:
    """The rows `bench/run.py` prints: every case on each database, as owner and as admin."""
    options = _options([])
    key = f"{_schema_head()}-d{DATA_VERSION}-{options.tasks}"
    table = []
    for name, url in _databases(key, options):
        for row in asyncio.run(_measure(url, options)):
            table.append(
                {
                    "name": f"history, {name}, {row['viewer']}: {row['case']}",
                    "value": f"median {row['median_ms']:.1f} ms (p95 {row['p95_ms']:.1f} ms)",
                    "reference": f"{options.tasks:,} finished tasks",
                    "figure": row["median_ms"],
                    "goal": f"median <= {row['goal_ms']:.0f} ms",
                    "met": row["met"],
                }
            )
    return table


def main() -> int:
    options = _options()
    key = f"{_schema_head()}-d{DATA_VERSION}-{options.tasks}"
    if options.drop:
        return _drop(key, options.postgres_url)
    report: dict[str, Any] = {"tasks": options.tasks, "runs": options.runs, "databases": {}}
    for name, url in _databases(key, options):
        print(f"\n== {name}: {make_url(url).render_as_string(hide_password=True)}")
        rows = asyncio.run(_measure(url, options))
        report["databases"][name] = rows
        _print_table(rows)
    passed = all(row["met"] for rows in report["databases"].values() for row in rows)
    _write(report, passed)
    print(f"\ngoals ({PAGE_GOAL_MS:g} ms page, {FILTER_GOAL_MS:g} ms filter or search, medians):",
          "met" if passed else "NOT met")  # fmt: skip
    return 0 if passed else 1


def _options(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=1_000_000, help="finished tasks to fill")
    parser.add_argument("--runs", type=int, default=RUNS, help="requests per case")
    parser.add_argument("--sqlite-only", action="store_true", help="leave PostgreSQL out")
    parser.add_argument("--postgres-url", default=POSTGRES_ADMIN_URL, help="a server to use")
    parser.add_argument("--refill", action="store_true", help="fill again even if kept")
    parser.add_argument("--drop", action="store_true", help="remove the kept databases")
    parser.add_argument("--explain", action="store_true", help="print each case's plans")
    return parser.parse_args(argv)


def _schema_head() -> str:
    """The newest migration's revision: a new migration means a new fill."""
    versions = (HERE.parent / "dashboard" / "migrations" / "versions").glob("[0-9]*_*.py")
    return "s" + max(path.name.split("_", 1)[0] for path in versions)


def _databases(key: str, options: argparse.Namespace) -> Iterator[tuple[str, str]]:
    yield "sqlite", _filled_sqlite(key, options)
    if options.sqlite_only:
        return
    url = _filled_postgresql(key, options)
    if url is None:
        print(f"\n== postgresql: skipped, no server answers at {options.postgres_url}")
    else:
        yield "postgresql", url


def _filled_sqlite(key: str, options: argparse.Namespace) -> str:
    path = CACHE / f"history-{key}.db"
    done = path.with_suffix(".done")
    if options.refill or not done.exists():
        CACHE.mkdir(exist_ok=True)
        for stale in (path, done, Path(f"{path}-wal"), Path(f"{path}-shm")):
            stale.unlink(missing_ok=True)
        migrate.upgrade(f"sqlite:///{path}")
        with _timed(f"filling SQLite with {options.tasks:,} tasks"):
            historydata.fill_sqlite(str(path), historydata.Fill(options.tasks))
        done.touch()
    return f"sqlite:///{path}"


def _filled_postgresql(key: str, options: argparse.Namespace) -> str | None:
    name = f"dashboard_bench_{key}"
    done = CACHE / f"postgresql-{key}.done"
    admin = create_engine(options.postgres_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            if options.refill or not done.exists():
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
                connection.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception:
        return None
    finally:
        admin.dispose()
    url = make_url(options.postgres_url).set(database=name).render_as_string(hide_password=False)
    if options.refill or not done.exists():
        migrate.upgrade(url)
        with _timed(f"filling PostgreSQL with {options.tasks:,} tasks"):
            historydata.fill_postgresql(
                url.replace("+psycopg", ""), historydata.Fill(options.tasks)
            )
        CACHE.mkdir(exist_ok=True)
        done.touch()
    return url


def _drop(key: str, postgres_url: str) -> int:
    for path in CACHE.glob("history-*"):
        path.unlink()
    admin = create_engine(postgres_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "dashboard_bench_{key}" WITH (FORCE)'))
    admin.dispose()
    (CACHE / f"postgresql-{key}.done").unlink(missing_ok=True)
    return 0


@contextmanager
def _timed(what: str) -> Iterator[None]:
    print(f"{what}...", flush=True)
    started = time.perf_counter()
    yield
    print(f"{what}: {time.perf_counter() - started:.0f} s", flush=True)


async def _measure(url: str, options: argparse.Namespace) -> list[dict[str, Any]]:
    rows = []
    async with _running_app(url) as app:
        engine = app.state.services.engine
        for viewer, user_id, scope in (("owner", OWNER_ID, "mine"), ("admin", None, "all")):
            cookie = _login(engine, user_id)
            for case in _cases(engine, scope):
                times = await _times(app, case, cookie, options.runs)
                rows.append(_row(viewer, case, times))
                if options.explain:
                    await _explain(app, case, cookie)
    return rows


@asynccontextmanager
async def _running_app(url: str) -> AsyncIterator[Any]:
    with tempfile.TemporaryDirectory(prefix="bench-history-") as state:
        redis = EmbeddedRedis(Path(state))
        settings = Settings(state_dir=Path(state), redis_url=redis.start(), database_url=url)
        try:
            app = create_app(settings)
            async with app.router.lifespan_context(app):
                yield app
        finally:
            redis.stop()


def _login(engine: Any, user_id: int | None) -> str:
    """A login session for the owner, or (None) for the admin, as the browser's cookie."""
    with engine.connect() as connection:
        admin = connection.execute(
            text("SELECT id FROM user_account WHERE is_admin ORDER BY id LIMIT 1")
        ).scalar_one()
    with Session(engine) as session:
        cookie, _ = sessions.start(session, user_id=user_id or admin, lifetime=timedelta(hours=1))
    return f"{SESSION_COOKIE}={cookie}"


def _cases(engine: Any, scope: str) -> list[Case]:
    prefix, cursor = _samples(engine)
    fragment = f"/fragments/finished?scope={scope}"
    return [
        Case("page: first byte of GET /", f"/?scope={scope}", PAGE_GOAL_MS, fragment=False),
        Case("page of the list (cursor)", f"{fragment}&cursor={cursor}", PAGE_GOAL_MS),
        Case("filter: state=FAILURE", f"{fragment}&state=FAILURE", FILTER_GOAL_MS),
        Case("filter: kind=csv", f"{fragment}&kind=csv", FILTER_GOAL_MS),
        Case("search: id prefix (8)", f"{fragment}&q={prefix}", FILTER_GOAL_MS),
        Case(f"search: rare text '{RARE_TEXT}'", f"{fragment}&q={RARE_TEXT}", FILTER_GOAL_MS),
        Case(f"search: common text '{COMMON_TEXT}'", f"{fragment}&q={COMMON_TEXT}", FILTER_GOAL_MS),
        Case(f"search: shown words '{SHOWN_WORDS}'", f"{fragment}&q={SHOWN_WORDS}", FILTER_GOAL_MS),
    ]


def _samples(engine: Any) -> tuple[str, str]:
    """An id prefix of one of the owner's older tasks, and the cursor of a page further down."""
    with engine.connect() as connection:
        task_id = connection.execute(SAMPLE_TASK, {"owner": OWNER_ID}).scalar_one()
    with Session(engine) as session:
        _, cursor = crud.page_tasks(
            session, states=FINAL_STATES, owner_id=OWNER_ID, cursor=None, limit=20
        )
    assert cursor is not None
    return task_id[:8], cursor


async def _times(app: Any, case: Case, cookie: str, runs: int) -> list[tuple[float, int]]:
    """(first byte in ms, task rows in the answer) for each run after the warm-ups."""
    answers = [await _ask(app, case, cookie) for _ in range(WARM_UPS + runs)]
    return answers[WARM_UPS:]


async def _ask(app: Any, case: Case, cookie: str) -> tuple[float, int]:
    """One ASGI request: the time to its first body byte, and how many task rows it holds."""
    path, _, query = case.path.partition("?")
    headers = [(b"cookie", cookie.encode()), (b"host", b"bench")]
    if case.fragment:
        headers.append((b"hx-request", b"true"))
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET",
        "scheme": "http", "path": path, "raw_path": path.encode(), "root_path": "",
        "query_string": query.replace(" ", "+").encode(), "headers": headers,
        "client": ("127.0.0.1", 1), "server": ("bench", 80),
    }  # fmt: skip
    body: list[bytes] = []
    first: list[float] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start" and message["status"] != 200:
            raise SystemExit(f"{case.path} answered {message['status']}")
        if message["type"] == "http.response.body" and message.get("body"):
            first.append(first[0] if first else time.perf_counter())
            body.append(message["body"])

    started = time.perf_counter()
    await app(scope, receive, send)
    return (first[0] - started) * 1000, b"".join(body).count(b'class="task-row"')


def _row(viewer: str, case: Case, times: list[tuple[float, int]]) -> dict[str, Any]:
    milliseconds = sorted(ms for ms, _ in times)
    median = statistics.median(milliseconds)
    return {
        "viewer": viewer,
        "case": case.name,
        "path": case.path,
        "median_ms": round(median, 2),
        "p95_ms": round(milliseconds[max(0, round(0.95 * len(milliseconds)) - 1)], 2),
        "goal_ms": case.goal_ms,
        "met": median <= case.goal_ms,
        "rows": times[-1][1],
    }


async def _explain(app: Any, case: Case, cookie: str) -> None:
    """Prints the plan of every task query the case's request sends."""
    engine = app.state.services.engine
    sent: list[tuple[str, Any]] = []

    def remember(_c: Any, _cur: Any, statement: str, parameters: Any, *_: Any) -> None:
        if " task" in statement and "FROM task" in statement:
            sent.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", remember)
    await _ask(app, case, cookie)
    event.remove(engine, "before_cursor_execute", remember)
    print(f"   plans for {case.name}:")
    for statement, parameters in sent:
        for line in _plan(engine, statement, parameters):
            print(f"      {line}")


def _plan(engine: Any, statement: str, parameters: Any) -> list[str]:
    sqlite = engine.dialect.name == "sqlite"
    prefix = "EXPLAIN QUERY PLAN " if sqlite else "EXPLAIN (ANALYZE, COSTS OFF) "
    with engine.connect() as connection:
        found = connection.exec_driver_sql(prefix + statement, parameters)
        return [str(row[-1] if sqlite else row[0]) for row in found] + ["--"]


def _print_table(rows: list[dict[str, Any]]) -> None:
    print(f"{'viewer':6}  {'case':46}  {'median':>8}  {'p95':>8}  {'goal':>6}  {'rows':>4}")
    for row in rows:
        verdict = "ok" if row["met"] else "MISSED"
        print(
            f"{row['viewer']:6}  {row['case']:46}  {row['median_ms']:>6.1f}ms"
            f"  {row['p95_ms']:>6.1f}ms  {row['goal_ms']:>4.0f}ms  {row['rows']:>4}  {verdict}"
        )


def _write(report: dict[str, Any], passed: bool) -> None:
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    report.update(
        measured="ms to the first body byte of an in-process ASGI request (pages render whole)",
        machine=platform.processor() or platform.machine(),
        python=sys.version.split()[0],
        sqlite=sqlite3.sqlite_version,
        goals={"page_ms": PAGE_GOAL_MS, "filter_or_search_ms": FILTER_GOAL_MS, "passed": passed},
    )
    RESULTS.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    sys.exit(main())
