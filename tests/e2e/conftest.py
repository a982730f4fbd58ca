"""The end-to-end suite: a real `dashboard run` (private Redis, SQLite, worker, web) and Chromium.

Chromium is Debian's /usr/bin/chromium where it exists (Playwright cannot download browsers
on every machine); elsewhere Playwright's own download. Screenshots go to test-artifacts/.
"""

import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import ConsoleMessage, Page

from tests.processes import REPO_ROOT, answers, free_port, spawn_dashboard_run, wait_until

SYSTEM_CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = REPO_ROOT / "test-artifacts"


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
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`dashboard run` exactly as `make run` starts it, on a free port and a fresh state dir."""
    state = tmp_path_factory.mktemp("e2e")
    port = free_port()
    log_path = state / "run.log"
    process = spawn_dashboard_run(state / "var", port, log_path)
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
