"""The processes page: what `dashboard run` supervises, its output, and its controls."""

import pytest
from playwright.sync_api import Dialog, Page, expect

from tests.e2e.conftest import log_in

pytestmark = pytest.mark.e2e


@pytest.fixture
def admin_page(page: Page, live_server: str, admin_email: str) -> Page:
    log_in(page, live_server, admin_email)
    return page


def test_the_processes_page_shows_output_and_stops_and_starts_the_worker(
    admin_page: Page, live_server: str
) -> None:
    page = admin_page
    page.goto(f"{live_server}/processes")
    for name in ("redis", "worker", "beat", "web"):
        expect(page.locator(f"#process-{name}")).to_have_attribute("data-state", "running")
    expect(page.locator("#log-worker")).to_contain_text("ready", timeout=15_000)
    expect(page.locator("#log-redis")).to_contain_text("Ready to accept connections")
    expect(page.locator("#process-web button", has_text="stop")).to_have_count(0)

    def accept(dialog: Dialog) -> None:
        assert "Stop worker?" in dialog.message or "Restart" in dialog.message
        dialog.accept()

    page.on("dialog", accept)
    page.locator("#process-worker button", has_text="stop").click()
    expect(page.locator("#process-worker")).to_have_attribute(
        "data-state", "stopped", timeout=60_000
    )
    page.locator("#process-worker button", has_text="start").click()
    expect(page.locator("#process-worker")).to_have_attribute(
        "data-state", "running", timeout=60_000
    )


def test_the_main_page_links_to_the_processes(admin_page: Page, live_server: str) -> None:
    page = admin_page
    page.goto(live_server)
    expect(page.locator("#processes tbody tr")).to_have_count(4)
    page.click("text=logs and controls →")
    expect(page.locator("#log-web")).to_be_visible()
