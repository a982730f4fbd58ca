"""The processes page: what `dashboard run` supervises, its output, and its controls."""

import re
from pathlib import Path

import pytest
from playwright.sync_api import Dialog, Page, expect

from dashboard.models import Task, utcnow
from tests.e2e.conftest import csrf_headers, insert_tasks, log_in, start_demo

pytestmark = pytest.mark.e2e
# Every line the worker logs names it; its start-up "ready" may be out of the 200-line tail by
# the time these tests run, after the earlier tests' tasks.
WORKER_LINE = re.compile(r"worker\[\d+\] celery\.")


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
    expect(page.locator("#log-worker")).to_contain_text(WORKER_LINE, timeout=15_000)
    expect(page.locator("#log-redis")).to_contain_text("Ready to accept connections")
    expect(page.locator("#process-web button", has_text="stop")).to_have_count(0)

    asked: list[str] = []

    def accept(dialog: Dialog) -> None:
        asked.append(dialog.message)
        dialog.accept()

    page.on("dialog", accept)
    # Each button is named with its process, for a screen reader (QA finding).
    page.get_by_role("button", name="Stop worker").click()
    expect(page.locator("#process-worker")).to_have_attribute(
        "data-state", "stopped", timeout=60_000
    )
    # The question says what stopping does to the work.
    assert asked[0].startswith("Stop worker?") and "go back to the queue" in asked[0]
    page.get_by_role("button", name="Start worker").click()
    expect(page.locator("#process-worker")).to_have_attribute(
        "data-state", "running", timeout=60_000
    )


def test_the_process_buttons_keep_the_keyboards_focus_as_the_card_refreshes(
    admin_page: Page, live_server: str
) -> None:
    page = admin_page
    page.goto(f"{live_server}/processes")
    restart = page.locator("#process-worker button", has_text="restart")
    restart.focus()
    with page.expect_response(re.compile(r"/fragments/processes")):
        pass  # the card's two-second refresh has come and been taken in
    with page.expect_response(re.compile(r"/fragments/processes")):
        pass
    assert page.evaluate("document.activeElement.textContent.trim()") == "restart"


def test_a_process_output_keeps_its_place_when_scrolled_up_and_follows_at_its_end(
    admin_page: Page, live_server: str
) -> None:
    page = admin_page
    page.goto(f"{live_server}/processes")
    log = page.locator("#log-worker")
    expect(log).to_contain_text(WORKER_LINE, timeout=15_000)
    page.wait_for_function(
        "() => { const log = document.getElementById('log-worker');"
        " return log.scrollHeight > log.clientHeight; }"
    )
    # At its end, it follows.
    assert log.evaluate("(log) => log.scrollHeight - log.scrollTop - log.clientHeight < 4")
    log.evaluate("(log) => { log.scrollTop = 0; }")  # the reader scrolls up
    for _ in range(2):
        with page.expect_response(re.compile(r"/fragments/processes/worker/log")):
            pass  # two refreshes come and go
    page.wait_for_timeout(200)
    assert log.evaluate("(log) => log.scrollTop") == 0


def test_the_main_page_links_to_the_processes(admin_page: Page, live_server: str) -> None:
    page = admin_page
    page.goto(live_server)
    expect(page.locator("#processes tbody tr")).to_have_count(4)
    page.click("text=logs and controls →")
    expect(page.locator("#log-web")).to_be_visible()


def test_all_users_fits_a_laptop_window_with_every_column_in_view(
    admin_page: Page, live_server: str, live_state: Path
) -> None:
    """The owner column makes the lists wider: at 1280 pixels both still fit their cards, so
    Retry and Cancel need no sideways scrolling, and results break between words."""
    page = admin_page
    owner = page.evaluate("fetch('/api/me').then((r) => r.json())")
    moment = utcnow()
    ended = [
        ("REVOKED", "cancelled by a.rather.long.name@example.com"),
        ("FAILURE", "DemoFailure: the demo task failed as asked, after 0 s"),
    ]
    insert_tasks(
        live_state,
        *(
            Task(id=f"wide-{state}", owner_id=owner["id"], kind="demo",
                 params={"seconds": 30, "should_fail": state == "FAILURE"}, state=state,
                 error=error, queued_at=moment, started_at=moment, finished_at=moment)
            for state, error in ended
        ),
    )  # fmt: skip
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(f"{live_server}/?scope=all")
    start_demo(page, "30")
    running = page.locator("#active-rows tr.task-row").first
    expect(running).to_have_attribute("data-state", "PROGRESS", timeout=30_000)
    for rows in ("#active-rows", "#finished-rows"):
        card = page.locator(".card", has=page.locator(rows))
        assert card.evaluate("(card) => card.scrollWidth <= card.clientWidth"), rows
    retry = page.locator("#task-wide-FAILURE button.retry")
    retry.scroll_into_view_if_needed()
    expect(retry).to_be_in_viewport()
    error = page.locator("#task-wide-FAILURE .error-text")
    assert error.evaluate("(cell) => cell.getBoundingClientRect().width") >= 150
    page.on("dialog", lambda dialog: dialog.accept())
    running.locator("button.cancel").click()  # tidy: leave no 30-second task behind
    expect(page.locator("#active-rows tr.task-row")).to_have_count(0, timeout=10_000)


def test_the_processes_page_fits_a_phone(admin_page: Page, live_server: str) -> None:
    """QA: at 390 pixels the buttons were off the screen, past the pid and uptime columns."""
    page = admin_page
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"{live_server}/processes")
    card = page.locator("#processes")
    expect(page.locator("#process-worker")).to_have_attribute("data-state", "running")
    assert card.evaluate("(card) => card.scrollWidth <= card.clientWidth")
    expect(page.get_by_role("button", name="Restart worker")).to_be_in_viewport()
    expect(page.locator("#process-worker .process-extra")).to_contain_text("up ")
    page.set_viewport_size({"width": 1280, "height": 900})
    expect(page.locator("#process-worker .process-extra")).to_be_hidden()  # its own column


def test_while_the_stream_is_down_what_it_keeps_up_to_date_is_dimmed(
    admin_page: Page, live_server: str
) -> None:
    """QA: with the server away the badge said "reconnecting…", but the Workers card still
    said "online" and a task PROGRESS, as fresh as ever."""
    page = admin_page
    expect(page.locator("#connection")).to_have_text("live", timeout=15_000)
    opacity = "(region) => getComputedStyle(region).opacity"
    active = page.locator("#active-tasks")
    assert active.evaluate(opacity) == "1"
    restarted = page.request.post(
        f"{live_server}/api/processes/web/restart", headers=csrf_headers(page)
    )
    assert restarted.status == 202
    expect(page.locator("body")).to_have_attribute("data-connection", "reconnecting")
    expect(page.locator("#connection")).to_have_text("reconnecting…")
    page.wait_for_function("() => getComputedStyle(document.getElementById('fleet')).opacity < 0.6")
    assert float(active.evaluate(opacity)) < 0.6
    expect(page.locator("#connection")).to_have_text("live", timeout=60_000)
    page.wait_for_function(
        "() => getComputedStyle(document.getElementById('active-tasks')).opacity === '1'"
    )
