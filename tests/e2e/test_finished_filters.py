"""The Finished list's search box and filters in the browser: the list narrows as you type,
without a page load; while it is filtered, tasks that finish are counted, not slipped in; and
cleared, it is the live list again."""

import re
from pathlib import Path

import pytest
from playwright.sync_api import APIResponse, Page, Route, expect

from dashboard.models import Task, utcnow
from tests.e2e.conftest import hold_the_answer, insert_finished_demos, insert_tasks, start_demo

pytestmark = pytest.mark.e2e


def add_finished_tasks(live_state: Path, owner_id: int) -> None:
    """Five finished tasks straight into the server's database, one with a telling error."""
    rows = [("pi", {"digits": 100 + n, "method": "chudnovsky"}, "SUCCESS", None) for n in range(4)]
    rows.append(("demo", {"seconds": 1}, "FAILURE", "ValueError: a needle in the haystack"))
    moment = utcnow()
    insert_tasks(
        live_state,
        *(
            Task(id=f"haystack-{owner_id}-{number}", owner_id=owner_id, kind=kind, params=params,
                 state=state, error=error, queued_at=moment, started_at=moment, finished_at=moment)
            for number, (kind, params, state, error) in enumerate(rows)
        ),
    )  # fmt: skip


def finish_a_demo_task(page: Page) -> str:
    """Start a demo task that succeeds at once; its id, from the form's new notice (the notice
    of the previous start stays on show until the answer replaces it)."""
    link = page.locator("#demo-form .notice a")
    previous = link.get_attribute("href") if link.count() else None
    start_demo(page, "0", "succeed")
    expect(link).to_be_visible()
    if previous:
        expect(link).not_to_have_attribute("href", previous)
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


def answer_later(page: Page, route: Route, answer: APIResponse) -> None:
    """Give the page the held answer and wait until it has replaced the list."""
    page.evaluate("document.getElementById('finished-list').dataset.beforeAnswer = ''")
    route.fulfill(response=answer)
    expect(page.locator("#finished-list[data-before-answer]")).to_have_count(0)


def test_a_task_that_finishes_while_a_filter_answer_is_on_its_way_stays_in_the_list(
    signed_in: Page, console_errors: list[str]
) -> None:
    page = signed_in
    expect(page.locator("#connection")).to_have_text("live", timeout=15_000)
    rows = page.locator("#finished-rows tr.task-row")
    earlier = finish_a_demo_task(page)
    expect(rows.first).to_have_id(f"task-{earlier}")

    route, answer = hold_the_answer(
        page, lambda: page.click("#finished-filters button[type=submit]")
    )
    late = finish_a_demo_task(page)
    expect(rows.first).to_have_id(f"task-{late}")
    answer_later(page, route, answer)

    expect(page.locator("#finished-list")).to_have_attribute("sse-swap", "finished-list")
    expect(rows.first).to_have_id(f"task-{late}")
    expect(page.locator(f"#task-{late}")).to_have_count(1)
    expect(page.locator(f"#task-{earlier}")).to_have_count(1)
    assert console_errors == []


def test_a_task_that_finishes_while_a_filtered_answer_is_on_its_way_is_counted(
    signed_in: Page, console_errors: list[str]
) -> None:
    page = signed_in
    expect(page.locator("#connection")).to_have_text("live", timeout=15_000)

    route, answer = hold_the_answer(page, lambda: page.select_option("#finished-kind", "pi"))
    late = finish_a_demo_task(page)
    expect(page.locator(f"#finished-rows #task-{late}")).to_have_count(1)
    answer_later(page, route, answer)

    expect(page.locator("#finished-list")).to_have_attribute("data-filtered", "")
    expect(page.locator("#finished-unseen")).to_have_text("1 task has finished since.")
    expect(page.locator(f"#task-{late}")).to_have_count(0)
    assert console_errors == []


def test_a_task_that_ends_before_its_start_answer_arrives_leaves_no_row_in_a_filtered_page(
    signed_in: Page, console_errors: list[str]
) -> None:
    """The start form's answer carries the new task's QUEUED row. When the task has already
    finished, and a filtered Finished list left it out, that row is stale and must not show."""
    page = signed_in
    expect(page.locator("#connection")).to_have_text("live", timeout=15_000)
    page.select_option("#finished-kind", "pi")
    expect(page.locator("#finished-list")).to_have_attribute("data-filtered", "")

    route, answer = hold_the_answer(page, lambda: start_demo(page, "0", "succeed"), "**/tasks/demo")
    expect(page.locator("#finished-unseen")).to_have_text("1 task has finished since.")
    route.fulfill(response=answer)

    notice = page.locator("#demo-form .notice a")
    expect(notice).to_be_visible()
    started = (notice.get_attribute("href") or "").rsplit("/", 1)[-1]
    expect(page.locator(f"#task-{started}")).to_have_count(0)
    expect(page.locator("#active-rows tr.task-row")).to_have_count(0)
    assert console_errors == []


def test_without_script_show_older_opens_the_older_page(
    page_without_script: Page, live_server: str, live_state: Path
) -> None:
    """Without script "Show older" is a link: the page with the next 20 finished tasks."""
    page = page_without_script
    me = page.request.get(f"{live_server}/api/me").json()
    insert_finished_demos(live_state, me["id"], "older", 25)
    page.goto(live_server)
    rows = page.locator("#finished-rows tr.task-row")
    expect(rows).to_have_count(20)
    page.click("#finished-more")
    expect(page).to_have_url(re.compile(r"/\?cursor=[^#]+#finished-tasks$"))
    expect(rows).to_have_count(5)
    expect(rows.first).to_have_id(f"task-older-{me['id']}-04")
    expect(page.locator("#finished-list")).to_contain_text("Back to the newest")
