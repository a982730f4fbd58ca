"""The Finished list's search box and filters in the browser: the list narrows as you type,
without a page load; while it is filtered, tasks that finish are counted, not slipped in; and
cleared, it is the live list again."""

import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from sqlmodel import Session

from dashboard.db import make_engine
from dashboard.models import Task, utcnow

pytestmark = pytest.mark.e2e


def add_finished_tasks(live_state: Path, owner_id: int) -> None:
    """Five finished tasks straight into the server's database, one with a telling error."""
    engine = make_engine(f"sqlite:///{live_state / 'dashboard.db'}")
    rows = [("pi", {"digits": 100 + n, "method": "chudnovsky"}, "SUCCESS", None) for n in range(4)]
    rows.append(("demo", {"seconds": 1}, "FAILURE", "ValueError: a needle in the haystack"))
    try:
        with Session(engine) as session:
            for number, (kind, params, state, error) in enumerate(rows):
                moment = utcnow()
                task = Task(id=f"haystack-{owner_id}-{number}", owner_id=owner_id, kind=kind,
                            params=params, state=state, error=error, queued_at=moment,
                            started_at=moment, finished_at=moment)  # fmt: skip
                session.add(task)
            session.commit()
    finally:
        engine.dispose()


def finish_a_demo_task(page: Page) -> str:
    page.fill("#demo-seconds", "0")
    page.check("input[name=should_fail][value=succeed]")
    page.click("#demo-form button")
    link = page.locator("#demo-form .notice a")
    expect(link).to_be_visible()
    return (link.get_attribute("href") or "").rsplit("/", 1)[-1]


def test_typing_in_the_search_box_narrows_the_list_without_a_page_load(
    signed_in: Page, live_server: str, live_state: Path, console_errors: list[str]
) -> None:
    page = signed_in
    me = page.request.get(f"{live_server}/api/me").json()
    add_finished_tasks(live_state, me["id"])
    page.reload()
    expect(page.locator("#connection")).to_have_text("live", timeout=15_000)
    rows = page.locator("#finished-rows tr.task-row")
    expect(rows).to_have_count(5)
    page.evaluate("window.stillTheSamePage = true")

    page.locator("#finished-search").press_sequentially("NEEDLE", delay=60)
    expect(rows).to_have_count(1)
    expect(rows.first).to_have_id(f"task-haystack-{me['id']}-4")
    expect(page.locator("#finished-list")).to_have_attribute("data-filtered", "")
    expect(page).to_have_url(re.compile(r"/\?q=NEEDLE$"))
    assert page.evaluate("window.stillTheSamePage") is True

    finished_meanwhile = finish_a_demo_task(page)
    expect(page.locator("#finished-unseen")).to_have_text("1 task has finished since.")
    expect(rows).to_have_count(1)

    page.select_option("#finished-kind", "pi")
    expect(page.locator("#finished-list .empty-note")).to_have_text("No finished task matches.")
    page.fill("#finished-search", "")
    expect(rows).to_have_count(4)
    page.select_option("#finished-kind", "")
    expect(rows).to_have_count(6)
    expect(rows.first).to_have_id(f"task-{finished_meanwhile}")
    expect(page.locator("#finished-list")).to_have_attribute("sse-swap", "finished-list")

    finished_next = finish_a_demo_task(page)
    expect(rows.first).to_have_id(f"task-{finished_next}", timeout=30_000)
    assert page.evaluate("window.stillTheSamePage") is True
    assert console_errors == []
