"""The `dashboard` command: `run` supervises everything; `web`, `worker`, `migrate` run one role.

`dashboard client` is the odd one out: a terminal client of a running dashboard, which needs
no server settings at all, only the URL to talk to.

`dashboard run` is the embedded default (`make run`): one process tree with a private Redis
(unless REDIS_URL is set), the database migrated, a worker and the web server, each a child
started as `python -m dashboard <role>` with the same environment, plus REDIS_URL. A real
deployment runs the single roles instead, each under its own process manager.

Heavy imports (uvicorn, Celery, Alembic) happen inside the command that needs them, so each
role loads only what it runs.
"""

import argparse
import logging
import logging.config
import os
import signal
import socket
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, cast

from pydantic import ValidationError

from dashboard import control
from dashboard.allocator import limit_malloc_arenas
from dashboard.redisserver import EmbeddedRedis, RedisStartError
from dashboard.settings import Settings, describe_invalid, get_settings
from dashboard.supervisor import ChildSpec, StopPlan, Supervisor, role_command

log = logging.getLogger(__name__)

# uvicorn waits this long for open connections (SSE streams never end on their own).
WEB_GRACEFUL_SECONDS = 5
WEB_STOP: StopPlan = ((signal.SIGTERM, WEB_GRACEFUL_SECONDS + 5.0),)
# SIGTERM is Celery's warm shutdown: it waits for running tasks, which may take an hour. After
# a while SIGQUIT starts the cold shutdown: tasks get worker_soft_shutdown_timeout to finish,
# then are cancelled and their (late-acknowledged) messages go back to the queue.
WORKER_STOP: StopPlan = ((signal.SIGTERM, 10.0), (signal.SIGQUIT, 15.0))
REDIS_STOP: StopPlan = ((signal.SIGTERM, 10.0),)
BEAT_STOP: StopPlan = ((signal.SIGTERM, 10.0),)
WEB_UP_TIMEOUT_SECONDS = 60.0
# On its own Redis, `dashboard run` has the only worker, so its name can stay the same across
# restarts: the fleet then shows the one worker, not a row for each worker that came before.
EMBEDDED_WORKER_NAME = "worker@%h"
ROLE_NAMES = {"run": "supervisor"}


def logging_config(role: str, level: str, log_format: str = "plain") -> dict[str, Any]:
    """One format for every process, naming its role, so interleaved lines stay legible: plain
    text, or one JSON object per line (LOG_FORMAT=json). Lines about a task get its id and
    owner (dashboard.logcontext). The web logs a dropped event stream as one line."""
    filters = {"task": {"()": "dashboard.logcontext.TaskContextFilter"}}
    if role == "web":
        filters["dropped_streams"] = {"()": "dashboard.eventresponse.DroppedStreamFilter"}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {
            "plain": {
                "format": f"%(asctime)s %(levelname)-7s {role}[%(process)d] %(name)s: %(message)s"
            },
            "json": {"()": "dashboard.logformat.JsonFormatter", "role": role},
        },
        "filters": filters,
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "formatter": log_format,
                "filters": list(filters),
                "stream": "ext://sys.stderr",
            }
        },
        "root": {"handlers": ["stderr"], "level": level.upper()},
        # Alembic lists its plugins at INFO on every start; the migrations it runs stay visible.
        "loggers": {"alembic.runtime.plugins": {"level": "WARNING"}},
    }


def main(argv: Sequence[str] | None = None) -> None:
    arguments = _parser().parse_args(argv)
    command = arguments.command
    if command == "client":
        sys.exit(client(arguments.url))
    role = ROLE_NAMES.get(command, command)
    try:
        settings = get_settings()
    except ValidationError as error:
        # Said in the log format asked for, if that much can be read: a collector of JSON
        # lines would drop a plain one.
        wanted = "json" if os.environ.get("LOG_FORMAT", "").strip().lower() == "json" else "plain"
        logging.config.dictConfig(logging_config(role, "INFO", wanted))
        log.error("invalid settings: %s", describe_invalid(error))
        sys.exit(2)
    logging.config.dictConfig(logging_config(role, settings.log_level, settings.log_format))
    if settings.log_format == "json":
        logging.captureWarnings(True)  # a warning printed as it is would be a line of plain text
    _warn_of_defaults(command, settings)
    try:
        if command in ("create-admin", "reset-password"):
            sys.exit(account_command(command, settings, arguments.email, arguments.password_stdin))
        sys.exit(COMMANDS[command](settings))
    except RedisStartError as error:  # its message says what to look at; no traceback needed
        log.error("%s", error)
        sys.exit(1)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dashboard",
        description="Live operations page for background work. Settings come from the "
        "environment (HOST, PORT, DASHBOARD_STATE_DIR, REDIS_URL, DATABASE_URL, ...).",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    commands.add_parser("run", help="run everything in one supervised process tree")
    commands.add_parser("web", help="serve the web application with uvicorn")
    commands.add_parser("worker", help="run a Celery worker")
    commands.add_parser("beat", help="run Celery beat (the periodic file retention sweep)")
    commands.add_parser("migrate", help="apply the database migrations")
    admin = commands.add_parser(
        "create-admin", help="make a user an admin, creating the account if there is none"
    )
    reset = commands.add_parser(
        "reset-password",
        help="replace an account's password and end its logins (its role stays as it is)",
    )
    for account in (admin, reset):
        account.add_argument("email")
        account.add_argument(
            "--password-stdin", action="store_true", help="read the password from standard input"
        )
    terminal = commands.add_parser(
        "client", help="a terminal client: log in, start tasks, see their events as they come"
    )
    terminal.add_argument(
        "--url",
        help="the dashboard to talk to (default: $DASHBOARD_URL, else http://127.0.0.1:8000)",
    )
    return parser


def client(url: str | None) -> int:
    """The terminal client; it prints to stdout, so only warnings are logged (httpx logs
    every request at INFO)."""
    from dashboard.client import run as run_client

    logging.config.dictConfig(logging_config("client", "WARNING"))
    return run_client(url)


def run(settings: Settings) -> int:
    """Embedded Redis (unless REDIS_URL is set), migrations, recovery, worker, web; supervised."""
    state_dir = _prepare_state_dir(settings)
    env = {**os.environ, "DASHBOARD_STATE_DIR": str(state_dir)}
    # No proxy stands in front of the embedded stack unless one is named: uvicorn's default
    # (trust X-Forwarded-For from 127.0.0.1) would let any program on this machine name any
    # address and step around the per-address login limits (a security probe did).
    env.setdefault("FORWARDED_ALLOW_IPS", "")
    with Supervisor(control_path=control.socket_path(state_dir)) as supervisor:
        redis_url = settings.redis_url or _start_embedded_redis(supervisor, state_dir)
        env["REDIS_URL"] = redis_url
        embedded = not settings.redis_url
        if embedded:
            env.setdefault("WORKER_NAME", EMBEDDED_WORKER_NAME)
        _migrate(settings.effective_database_url)
        _recover(env, embedded=embedded)
        if not supervisor.stop_requested:  # a Ctrl-C during the migrations starts nothing more
            worker = role_command("worker")
            # Orphaned, it is killed: Redis and the rest went with the supervisor, and its tasks'
            # messages wait in Redis's files for the next start (dashboard.supervisor says why).
            orphaned = signal.SIGKILL
            supervisor.start(
                ChildSpec("worker", worker, env, WORKER_STOP, orphaned_signal=orphaned)
            )
            supervisor.start(ChildSpec("beat", role_command("beat"), env, BEAT_STOP))
            web_spec = ChildSpec("web", role_command("web"), env, WEB_STOP, stoppable=False)
            supervisor.start(web_spec)
            _announce(supervisor, settings, state_dir)
        return supervisor.run()


def web(settings: Settings) -> int:
    """uvicorn serving the app factory; stops gracefully on SIGTERM or Ctrl-C."""
    import uvicorn

    limit_malloc_arenas()  # before uvicorn starts any thread (dashboard.allocator says why)
    # It starts regardless (its /healthz says what is wrong), but says so now: the reason was
    # heard only at the first request that needed the database (QA).
    problem = _schema_problem(settings)
    if problem is not None:
        log.warning(
            "the database at %s is %s: requests needing it answer 503 until it is migrated",
            _shown_url(settings.effective_database_url),
            problem,
        )

    uvicorn.run(
        "dashboard.app:create_app",
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=settings.web_concurrency,
        timeout_graceful_shutdown=WEB_GRACEFUL_SECONDS,
        # uvicorn applies it again in each of its worker processes.
        log_config=logging_config("web", settings.log_level, settings.log_format),
        access_log=False,
    )
    return 0


# The kernel's own PID namespace (PROC_PID_INIT_INO): a process outside any container's.
INITIAL_PID_NAMESPACE = "pid:[4026531836]"


def default_worker_name(read_namespace: Callable[[], str] | None = None) -> str:
    """`worker-PID@%h`. In a PID namespace of its own (a container; with host networking it
    shares the host's name) pids repeat, so the namespace joins the name: two such workers
    were both `worker-3000001@vm`, and the fleet showed one row for two."""
    try:
        namespace = (read_namespace or (lambda: os.readlink("/proc/self/ns/pid")))()
    except OSError:  # not Linux
        namespace = INITIAL_PID_NAMESPACE
    inode = namespace.removeprefix("pid:[").removesuffix("]")
    in_container = namespace != INITIAL_PID_NAMESPACE
    return f"worker-{os.getpid()}{f'.{inode}' if in_container else ''}@%h"


def worker(settings: Settings) -> int:
    """A standard Celery worker, as `celery -A dashboard.worker worker` would start it."""
    from dashboard.worker import app

    problem = _schema_problem(settings)
    if problem is not None:
        log.error(
            "not starting: the database at %s is %s; run `dashboard migrate`, or check "
            "DATABASE_URL",
            _shown_url(settings.effective_database_url),
            problem,
        )
        return 2
    # Celery's stubs say start() never returns; it returns the worker's exit code.
    start = cast(Callable[[list[str]], int | None], app.start)
    argv = [
        *_celery_console(settings),
        "worker",
        f"--loglevel={settings.log_level.upper()}",
        f"--concurrency={settings.worker_concurrency}",
        # Celery's default node name, celery@host, clashes when two workers share a host.
        f"--hostname={settings.worker_name or default_worker_name()}",
    ]
    return start(argv) or 0


def _schema_problem(settings: Settings) -> str | None:
    """A worker on a database without this code's tables took tasks and held each for the
    database retries (operator probe: no DATABASE_URL, so an empty SQLite file). A server
    that does not answer yet may come: its tasks wait for it, as in any outage. A SQLite file
    that is not there will not (QA: a mistyped DASHBOARD_STATE_DIR), and is not made here."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import SQLAlchemyError

    from dashboard.db import engine_for
    from dashboard.migrate import schema_problem

    url = make_url(settings.effective_database_url)
    if url.get_backend_name() == "sqlite" and not Path(url.database or "").is_file():
        return "missing: no such file"
    engine = engine_for(settings)
    try:
        with engine.connect() as connection:
            return schema_problem(connection)
    except SQLAlchemyError as error:
        log.warning("the database does not answer yet (%s): starting anyway", database_error(error))
        return None
    finally:
        engine.dispose()


def database_error(error: Exception) -> str:
    """The driver's own words (a role that does not exist, say), on one line; SQLAlchemy's
    add the statement and a link, and no parameters (hide_parameters)."""
    cause = getattr(error, "orig", None) or error
    return " ".join(str(cause).split()) or type(cause).__name__


def _shown_url(url: str) -> str:
    """The address without its password, for a log line."""
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def _warn_of_defaults(command: str, settings: Settings) -> None:
    """`dashboard run` gives its children REDIS_URL; a role started alone without it quietly
    joined whatever Redis listens on this host's default port (operator probe)."""
    if command in ("web", "worker", "beat") and settings.redis_url is None:
        log.warning(
            "REDIS_URL is not set: using %s (only `dashboard run` starts an embedded Redis)",
            settings.effective_redis_url,
        )


def beat(settings: Settings) -> int:
    """Celery beat: sends the periodic tasks (one beat per deployment, however many workers)."""
    from dashboard.worker import app

    _prepare_state_dir(settings)
    start = cast(Callable[[list[str]], int | None], app.start)
    argv = [*_celery_console(settings), "beat", f"--loglevel={settings.log_level.upper()}"]
    return start(argv) or 0


def _celery_console(settings: Settings) -> list[str]:
    """With LOG_FORMAT=json, Celery's banner, which it prints past logging, is left out. The
    two shutdown notices it writes straight to the file descriptor stay plain text."""
    return ["--quiet"] if settings.log_format == "json" else []


def account_command(command: str, settings: Settings, email: str, password_stdin: bool) -> int:
    """create-admin makes EMAIL an admin (a new account asks for a password, twice or once
    from stdin); reset-password replaces an existing account's password."""
    from dashboard.adminsetup import AdminSetupError, reset_password, setup_admin

    migrate(settings)
    act = setup_admin if command == "create-admin" else reset_password
    try:
        message = act(settings, email, password_stdin=password_stdin)
    except AdminSetupError as error:
        log.error("%s", error)
        return 2
    log.info("%s", message)
    return 0


def migrate(settings: Settings) -> int:
    """Brings the database to the latest Alembic revision."""
    _prepare_state_dir(settings)
    _migrate(settings.effective_database_url)
    return 0


COMMANDS: dict[str, Callable[[Settings], int]] = {
    "run": run,
    "web": web,
    "worker": worker,
    "beat": beat,
    "migrate": migrate,
}


def _prepare_state_dir(settings: Settings) -> Path:
    """The state directory, for this user only, as is everything the stack writes in it: the
    database holds password hashes, and the files are each user's own (a probe read both as
    another account of the machine)."""
    os.umask(0o077)  # inherited by every child: the database, files, logs, Redis's files
    state_dir = settings.state_dir.resolve()
    state_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    status = state_dir.stat()
    if status.st_mode & 0o077 and status.st_uid == os.getuid():
        state_dir.chmod(0o700)  # made by an earlier version, with the default mode
        log.info("%s is now readable by its owner only", state_dir)
    return state_dir


def _start_embedded_redis(supervisor: Supervisor, state_dir: Path) -> str:
    server = EmbeddedRedis(state_dir)
    spec = ChildSpec("redis", server.command(), stop=REDIS_STOP, log_file=server.logfile)
    process = supervisor.start(spec)
    server.wait_ready(process)
    log.info("embedded redis-server is up on %s (files in %s)", server.address, server.dir)
    return server.url


def _migrate(database_url: str) -> None:
    from dashboard import migrate as migrations

    migrations.upgrade(database_url)


def _recover(env: dict[str, str], *, embedded: bool) -> None:
    """Re-queues or closes the tasks a previous run left active, before any worker starts."""
    from dashboard.reconciliation import recover_at_start
    from dashboard.worker import app

    # The supervisor reads the same settings its children will (REDIS_URL may be new).
    os.environ.update(env)
    get_settings.cache_clear()
    recover_at_start(app, embedded=embedded)


def _announce(supervisor: Supervisor, settings: Settings, state_dir: Path) -> None:
    """Logs that the dashboard is up once the web server accepts connections."""
    if supervisor.wait_for(
        lambda: _accepts_connections(settings.host, settings.port), WEB_UP_TIMEOUT_SECONDS
    ):
        host = f"[{settings.host}]" if ":" in settings.host else settings.host
        log.info("dashboard is up on http://%s:%d (state in %s)", host, settings.port, state_dir)
    elif not supervisor.stop_requested:
        log.warning("the web server is not accepting connections on port %d yet", settings.port)


def _accepts_connections(host: str, port: int) -> bool:
    # A wildcard address is not one to connect to; its loopback twin is.
    target = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(host, host)
    try:
        with socket.create_connection((target, port), timeout=1.0):
            return True
    except OSError:
        return False
