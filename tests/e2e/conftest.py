"""The end-to-end suite: a real `dashboard run` (private Redis, SQLite, worker, web) and Chromium.

Chromium is Debian's /usr/bin/chromium where it exists (Playwright cannot download browsers
on every machine); elsewhere Playwright's own download. Screenshots go to test-artifacts/.
"""

import json
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import APIResponse, Browser, ConsoleMessage, Page, Route, expect
from sqlmodel import Session, col, delete

from dashboard.accounts import users
from dashboard.db import make_engine
from dashboard.models import Task, utcnow
from tests.accounts import PASSWORD, unique_email
from tests.processes import (
    REPO_ROOT,
    answers,
    embedded_env,
    free_port,
    spawn_dashboard_run,
    wait_until,
)

SYSTEM_CHROMIUM = Path("/usr/bin/chromium")
# What one user may hold queued or running on the live server (USER_MAX_ACTIVE_TASKS).
LIVE_TASK_LIMIT = 600
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = REPO_ROOT / "test-artifacts"
# Run in the page: remembers every value the Active list's progress bars show.
RECORD_PROGRESS = """() => {
  window.progressSeen = [];
  const rows = document.getElementById("active-rows");
  const record = () => {
    for (const bar of rows.querySelectorAll("progress")) window.progressSeen.push(bar.value);
  };
  new MutationObserver(record).observe(rows, { childList: true, subtree: true, attributes: true });
}"""


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict[str, Any]) -> dict[str, Any]:
    args = {**browser_type_launch_args, "args": CHROMIUM_FLAGS}
    if SYSTEM_CHROMIUM.exists():
        args["executable_path"] = str(SYSTEM_CHROMIUM)
    return args


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


@pytest.fixture(scope="session")
def live_state(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The state directory of the `dashboard run` under test."""
    return tmp_path_factory.mktemp("e2e") / "var"


@pytest.fixture(scope="session")
def live_server(live_state: Path) -> Iterator[str]:
    """`dashboard run` exactly as `make run` starts it, on a free port and a fresh state dir."""
    port = free_port()
    log_path = live_state.parent / "run.log"
    # The long-queue tests hold over ACTIVE_LIMIT (500) tasks queued for one user, past the
    # default USER_MAX_ACTIVE_TASKS; every other setting is make run's.
    limit = str(LIVE_TASK_LIMIT)
    process = spawn_dashboard_run(live_state, port, log_path, USER_MAX_ACTIVE_TASKS=limit)
    base_url = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: answers(f"{base_url}/healthz"), "dashboard run", 90)
        yield base_url
    except TimeoutError:
        pytest.fail(f"dashboard run did not come up:\n{log_path.read_text()[-4000:]}")
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(60)
        except subprocess.TimeoutExpired:
            process.kill()


@pytest.fixture
def console_errors(page: Page) -> list[str]:
    errors: list[str] = []

    def record(message: ConsoleMessage) -> None:
        if message.type == "error":
            errors.append(message.text)

    page.on("console", record)
    page.on("pageerror", lambda error: errors.append(str(error)))
    return errors


def register(page: Page, live_server: str, email: str, password: str = PASSWORD) -> None:
    """Registers through the real form; the browser lands on the page, logged in."""
    page.goto(f"{live_server}/register")
    page.fill("#register-email", email)
    page.fill("#register-password", password)
    page.click("#register-form button")
    expect(page.locator(".topbar .who")).to_contain_text(email.lower())


def log_in(page: Page, live_server: str, email: str, password: str = PASSWORD) -> None:
    page.goto(f"{live_server}/login")
    page.fill("#login-email", email)
    page.fill("#login-password", password)
    page.click("#login-form button")
    expect(page.locator(".topbar .who")).to_contain_text(email.lower())


@pytest.fixture
def page_without_script(browser: Browser, live_server: str, live_state: Path) -> Iterator[Page]:
    """A page with JavaScript switched off, logged in through the plain form as a new user."""
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    try:
        log_in(page, live_server, make_account(live_state, "noscript"))
        yield page
    finally:
        context.close()


def open_page(page: Page, live_server: str) -> None:
    page.goto(live_server)
    expect(page.locator("#connection")).to_have_text("live", timeout=15_000)


@pytest.fixture
def signed_in(page: Page, live_server: str, live_state: Path) -> Page:
    """The test's page, logged in through the form as a new user, showing the live page.

    The account is made in the database: registrations from one address are limited per hour
    (the registration tests use the form itself)."""
    email = make_account(live_state, "e2e")
    log_in(page, live_server, email)
    open_page(page, live_server)
    return page


@pytest.fixture(scope="session")
def admin_email(live_server: str, live_state: Path) -> str:
    """An admin made with `dashboard create-admin`, as an operator would."""
    email = "operator@example.com"
    made = subprocess.run(
        [sys.executable, "-m", "dashboard", "create-admin", email, "--password-stdin"],
        input=PASSWORD + "\n",
        env=embedded_env(live_state),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert made.returncode == 0, made.stderr
    return email


def make_account(live_state: Path, prefix: str) -> str:
    """A new account straight in the server's database; its e-mail (the password: PASSWORD)."""
    email = unique_email(prefix)
    with _database(live_state) as session:
        users.register(session, email=email, password=PASSWORD)
    return email


def insert_tasks(live_state: Path, *tasks: Task) -> None:
    """Rows straight into the server's database: a history the test could not make by waiting."""
    with _database(live_state) as session:
        session.add_all(tasks)
        session.commit()


def insert_finished_demos(live_state: Path, owner_id: int, prefix: str, count: int) -> None:
    """`count` demo tasks ended SUCCESS, ids `{prefix}-{owner_id}-00` on, the later ones
    finished later (second by second within this minute): more than a page of the list."""
    moment = utcnow()
    insert_tasks(
        live_state,
        *(
            Task(id=f"{prefix}-{owner_id}-{number:02d}", owner_id=owner_id, kind="demo",
                 params={"seconds": number}, state="SUCCESS", queued_at=moment,
                 started_at=moment, finished_at=moment.replace(second=number % 60))
            for number in range(count)
        ),
    )  # fmt: skip


def delete_tasks(live_state: Path, task_ids: list[str]) -> None:
    """Takes rows a test inserted out again (queued ones, say, that no worker will ever run)."""
    with _database(live_state) as session:
        session.exec(delete(Task).where(col(Task.id).in_(task_ids)))
        session.commit()


@contextmanager
def _database(live_state: Path) -> Iterator[Session]:
    engine = make_engine(f"sqlite:///{live_state / 'dashboard.db'}")
    try:
        with Session(engine) as session:
            yield session
    finally:
        engine.dispose()


def csrf_headers(page: Page) -> dict[str, str]:
    """The headers the page's own requests carry (its CSRF token), for the test's requests."""
    headers: dict[str, str] = json.loads(page.locator("body").get_attribute("hx-headers") or "{}")
    assert "X-CSRF-Token" in headers
    return headers


def start_demo(page: Page, seconds: str, outcome: str | None = None) -> None:
    """Starts a demo task from its form: `outcome` "succeed" or "fail", else the form's own."""
    page.fill("#demo-seconds", seconds)
    if outcome:
        page.check(f"input[name=should_fail][value={outcome}]")
    page.click("#demo-form button")


def hold_the_answer(
    page: Page, ask: Callable[[], None], url: str = "**/fragments/finished*"
) -> tuple[Route, APIResponse]:
    """The answer to what the page asks of `url` on `ask()` (by default the Finished list),
    read by the server now but held back from the page until the test fulfills the route."""
    held: list[Route] = []
    page.route(url, lambda route: held.append(route))
    ask()
    for _ in range(200):  # up to 10 s
        if held:
            return held[0], held[0].fetch()
        page.wait_for_timeout(50)
    raise AssertionError(f"the page asked nothing of {url}")
