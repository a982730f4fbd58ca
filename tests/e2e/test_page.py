"""What a person sees: live gauges, a pi task with its progress bar, a failing demo task."""

import re
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, Route, expect

from dashboard.crud import ACTIVE_LIMIT
from dashboard.models import Task, utcnow
from dashboard.settings import Settings
from tests.e2e.conftest import (
    LIVE_TASK_LIMIT,
    RECORD_PROGRESS,
    csrf_headers,
    delete_tasks,
    hold_the_answer,
    insert_tasks,
    open_page,
    start_demo,
)
from tests.processes import wait_until

pytestmark = pytest.mark.e2e


def gauge_figures(page: Page) -> list[str]:
    return page.locator("#host-gauges .figure[data-metric]").all_inner_texts()


def test_the_gauges_show_numbers_that_change(signed_in: Page, console_errors: list[str]) -> None:
    page = signed_in
    expect(page.locator("#host-gauges .figure[data-metric=cpu]")).to_have_text(re.compile(r"% *$"))
    first = gauge_figures(page)
    first_sample = page.locator("#host-gauges time").get_attribute("datetime")
    assert len(first) >= 3 and all(text.endswith("%") for text in first)
    page.wait_for_function(
        "([before]) => Array.from(document.querySelectorAll('#host-gauges .figure[data-metric]'))"
        ".map((e) => e.textContent.trim()).join('|') !== before",
        arg=["|".join(first)],
        timeout=30_000,
    )
    assert page.locator("#host-gauges time").get_attribute("datetime") != first_sample
    expect(page.locator("#host-chart .uplot canvas")).to_have_count(1)
    # Unpointed, the legend says the latest figures (QA: it read a dash for each).
    legend = page.locator("#host-chart .u-legend .u-series .u-value")
    expect(legend.nth(1)).to_have_text(re.compile(r"^\d+\.\d %$"))
    moment = legend.first
    expect(moment).to_have_text(re.compile(r"^\d\d:\d\d:\d\d$"))
    # Pointing at the chart shows that moment on the page's 24-hour clock.
    page.locator("#host-chart .u-over").hover()
    expect(moment).to_have_text(re.compile(r"^\d\d:\d\d:\d\d$"))
    expect(page.locator("#host-gauges table.disks tbody tr").first).to_contain_text("/")
    assert console_errors == []


def test_pi_to_200000_digits_moves_its_bar_and_lands_in_finished(
    signed_in: Page, artifacts: Path, console_errors: list[str]
) -> None:
    page = signed_in
    page.evaluate(RECORD_PROGRESS)
    page.fill("#pi-digits", "200000")
    page.select_option("#pi-method", "chudnovsky")
    page.click("#pi-form button")
    expect(page.locator("#pi-form .notice")).to_contain_text("Started")
    finished = page.locator("#finished-rows tr", has_text="200,000 digits").first
    expect(finished).to_have_attribute("data-state", "SUCCESS", timeout=60_000)
    expect(finished.locator("code.digits")).to_have_text(re.compile(r"^3\.14159265358979"))
    expect(finished.locator("a.download")).to_have_attribute("href", re.compile(r"/file$"))
    row_id = finished.get_attribute("id")
    expect(page.locator(f"#active-rows #{row_id}")).to_have_count(0)
    seen = page.evaluate("window.progressSeen")
    moving = {value for value in seen if value > 0}
    assert len(moving) >= 2, f"the bar showed only {sorted(set(seen))}"
    page.screenshot(path=str(artifacts / "dashboard.png"), full_page=True)
    assert console_errors == []


def test_a_failing_demo_task_lands_as_failure(signed_in: Page) -> None:
    page = signed_in
    start_demo(page, "1", "fail")
    link = page.locator("#demo-form .notice a")
    expect(link).to_be_visible()
    task_row = page.locator(f"#task-{link.get_attribute('href').rsplit('/', 1)[-1]}")
    expect(task_row).to_have_attribute("data-state", "FAILURE", timeout=30_000)
    expect(task_row).to_contain_text("failed as asked")
    expect(page.locator("#finished-rows").locator(task_row)).to_have_count(1)


def test_a_bad_value_gets_its_message_beside_the_field(signed_in: Page) -> None:
    page = signed_in
    page.fill("#pi-digits", "11")
    page.select_option("#pi-method", "leibniz")
    page.click("#pi-form button")
    expect(page.locator("#pi-digits-error")).to_contain_text("capped at 10 digits")
    expect(page.locator("#pi-digits")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#pi-digits")).to_have_value("11")


def test_what_is_typed_while_a_start_is_on_its_way_is_kept(signed_in: Page) -> None:
    """The start's answer replaces the form, filled in with what was sent; a value changed
    while the answer was held back stays as changed, and an unchanged one as sent."""
    page = signed_in
    page.fill("#pi-digits", "120")

    def start_pi() -> None:
        page.click("#pi-form button")

    route, answer = hold_the_answer(page, start_pi, "**/tasks/pi")
    page.fill("#pi-digits", "345")
    page.check("#pi-form input[name=notify_email]")
    route.fulfill(response=answer)

    expect(page.locator("#pi-form .notice")).to_contain_text("Started")
    expect(page.locator("#pi-digits")).to_have_value("345")
    expect(page.locator("#pi-form input[name=notify_email]")).to_be_checked()
    expect(page.locator("#pi-method")).to_have_value("chudnovsky")
    started = page.locator("#pi-form .notice a").get_attribute("href") or ""
    expect(page.locator(f"#task-{started.rsplit('/', 1)[-1]}")).to_contain_text("120 digits")


def test_a_double_click_on_start_starts_one_task(signed_in: Page) -> None:
    """A 0-second task answers before the second click of a double-click lands, on the
    fresh form's button; that click must not start it again. A later single click does."""
    page = signed_in
    starts: list[str] = []
    page.on("request", lambda r: starts.append(r.url) if r.method == "POST" else None)
    page.fill("#demo-seconds", "0")
    box = page.locator("#demo-form button").bounding_box()
    assert box is not None
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.mouse.down(click_count=1)
    page.mouse.up(click_count=1)
    expect(page.locator("#demo-form .notice")).to_contain_text("Started")  # the answer is in
    page.mouse.down(click_count=2)
    page.mouse.up(click_count=2)
    page.click("#pi-form button")  # something to wait for, sent after any second start
    expect(page.locator("#pi-form .notice")).to_contain_text("Started")
    assert [url.rsplit("/", 1)[-1] for url in starts] == ["demo", "pi"]


def test_the_status_page_follows_a_task_to_its_end(signed_in: Page) -> None:
    page = signed_in
    start_demo(page, "2", "succeed")
    page.click("#demo-form .notice a")
    detail = page.locator("#task-detail")
    expect(detail).to_have_attribute("data-state", re.compile("QUEUED|STARTED|PROGRESS"))
    expect(detail).to_have_attribute("data-state", "SUCCESS", timeout=30_000)
    expect(detail).to_contain_text("slept 2 s")
    page.click("text=← dashboard")
    expect(page.locator("#finished-tasks")).to_be_visible()


def test_cancel_a_running_task_then_retry_it(signed_in: Page) -> None:
    page = signed_in
    page.on("dialog", lambda dialog: dialog.accept())
    start_demo(page, "30", "succeed")
    task_id = (page.locator("#demo-form .notice a").get_attribute("href") or "").rsplit("/", 1)[-1]
    active = page.locator(f"#active-rows #task-{task_id}")
    expect(active).to_have_attribute("data-state", "PROGRESS", timeout=30_000)
    active.locator("button.cancel").click()
    finished = page.locator(f"#finished-rows #task-{task_id}")
    expect(finished).to_have_attribute("data-state", "REVOKED", timeout=10_000)
    expect(finished).to_contain_text("cancelled by")
    finished.locator("button.retry").click()
    again = page.locator("#active-rows tr.task-row", has_text="sleep 30 s").first
    expect(again).to_be_visible(timeout=10_000)
    assert again.get_attribute("id") != f"task-{task_id}"
    again.locator("button.cancel").click()  # tidy: leave no 30-second task behind
    expect(page.locator("#active-rows tr.task-row")).to_have_count(0, timeout=10_000)


def created_id(page: Page, form: str) -> str:
    """The id of the task a start form just started, from its notice's link."""
    link = page.locator(f"{form} .notice a").get_attribute("href") or ""
    return link.rsplit("/", 1)[-1]


def focused_text(page: Page) -> str:
    return str(page.evaluate("document.activeElement.textContent.trim()"))


def test_a_running_tasks_buttons_stay_put_under_its_progress(
    signed_in: Page, live_server: str
) -> None:
    """Progress comes several times a second. The row and the status page are brought up to
    date in place, so a button keeps the keyboard's focus and a slow click lands."""
    page = signed_in
    page.on("dialog", lambda dialog: dialog.accept())
    page.evaluate(RECORD_PROGRESS)
    start_demo(page, "30", "succeed")
    task_id = created_id(page, "#demo-form")
    row = page.locator(f"#active-rows #task-{task_id}")
    expect(row).to_have_attribute("data-state", "PROGRESS", timeout=30_000)
    cancel = row.locator("button.cancel")
    cancel.focus()
    before = len(page.evaluate("window.progressSeen"))
    page.wait_for_timeout(1500)
    assert len(page.evaluate("window.progressSeen")) > before + 2  # progress came meanwhile
    assert focused_text(page) == "Cancel", "row"
    assert float(row.locator("progress").get_attribute("value") or 0) > 0

    page.goto(f"{live_server}/tasks/{task_id}")
    detail = page.locator("#task-detail")
    percent = detail.locator(".percent").inner_text()
    detail.locator("button.cancel").focus()
    expect(detail.locator(".percent")).not_to_have_text(percent, timeout=5_000)
    page.wait_for_timeout(1500)  # another poll or so
    assert focused_text(page) == "Cancel"
    # A click whose press lasts across updates still lands.
    box = detail.locator("button.cancel").bounding_box()
    assert box is not None
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.mouse.down()
    page.wait_for_timeout(1300)
    page.mouse.up()
    expect(detail).to_have_attribute("data-state", "REVOKED", timeout=10_000)


def test_a_time_that_appears_in_place_is_shown_in_local_wording(
    signed_in: Page, live_server: str
) -> None:
    """A queued task's status page shows no start; when it starts, the start time comes in by
    the page's in-place update and must be worded like every other time, not as UTC."""
    page = signed_in
    headers = csrf_headers(page)
    busy = [
        page.request.post(
            f"{live_server}/api/tasks/demo", data={"seconds": 30}, headers=headers
        ).json()["id"]
        for _ in range(2)  # both of the worker's slots
    ]
    waiting = page.request.post(
        f"{live_server}/api/tasks/demo", data={"seconds": 5}, headers=headers
    ).json()["id"]
    page.goto(f"{live_server}/tasks/{waiting}")
    detail = page.locator("#task-detail")
    expect(detail).to_have_attribute("data-state", "QUEUED", timeout=10_000)
    for task_id in busy:
        page.request.post(f"{live_server}/api/tasks/{task_id}/cancel", headers=headers)
    expect(detail).to_have_attribute("data-state", "PROGRESS", timeout=15_000)
    started = detail.locator("dd time").nth(1)  # queued, then started
    expect(started).to_be_visible()
    # Worded by the page: the full local date as its title, not the ISO moment it came with.
    assert not re.search(r"\d{4}-\d\d-\d\dT", started.get_attribute("title") or "")


def test_buttons_name_their_task_and_the_status_page_retries(
    signed_in: Page, live_server: str
) -> None:
    page = signed_in
    asked: list[str] = []
    page.on("dialog", lambda dialog: (asked.append(dialog.message), dialog.accept()))
    start_demo(page, "30", "succeed")
    task_id = created_id(page, "#demo-form")
    cancel = page.get_by_role("button", name=f"Cancel demo task {task_id[:8]}")
    expect(cancel).to_be_visible(timeout=10_000)
    cancel.click()
    retry = page.get_by_role("button", name=f"Retry demo task {task_id[:8]}")
    expect(retry).to_be_visible(timeout=10_000)
    assert asked == [f"Stop demo task {task_id[:8]} now? What it has done so far is lost."]
    # On the task's own page, Retry starts it again and goes on to the new task.
    page.goto(f"{live_server}/tasks/{task_id}")
    page.get_by_role("button", name=f"Retry demo task {task_id[:8]}").click()
    expect(page).not_to_have_url(re.compile(f"/tasks/{task_id}$"), timeout=10_000)
    detail = page.locator("#task-detail")
    expect(detail.locator(f"a[href='/tasks/{task_id}']")).to_be_visible()  # "retry of"
    page.get_by_role("button", name=re.compile("^Cancel demo task")).click()  # tidy
    expect(detail).to_have_attribute("data-state", "REVOKED", timeout=10_000)


def test_a_double_click_on_retry_retries_once(signed_in: Page) -> None:
    page = signed_in
    start_demo(page, "0", "fail")
    task_id = created_id(page, "#demo-form")
    retry = page.locator(f"#finished-rows #task-{task_id} button.retry")
    expect(retry).to_be_visible(timeout=30_000)
    retries: list[str] = []
    page.on("request", lambda r: retries.append(r.url) if r.url.endswith("/retry") else None)
    retry.dblclick()
    again = page.locator("#finished-rows tr.task-row, #active-rows tr.task-row")
    expect(again).to_have_count(2, timeout=30_000)  # the failed task and one retry
    page.wait_for_timeout(500)
    assert len(retries) == 1 and again.count() == 2


def test_a_cancel_that_comes_too_late_says_so(signed_in: Page) -> None:
    page = signed_in
    page.on("dialog", lambda dialog: dialog.accept())
    start_demo(page, "2", "succeed")
    task_id = created_id(page, "#demo-form")
    held: list[Route] = []
    page.route("**/cancel", lambda route: held.append(route))
    page.locator(f"#active-rows #task-{task_id} button.cancel").click()
    # The Cancel is on its way while the task ends and its row leaves the Active list.
    finished = page.locator(f"#finished-rows #task-{task_id}")
    expect(finished).to_have_attribute("data-state", "SUCCESS", timeout=30_000)
    assert len(held) == 1
    held[0].continue_()
    expect(page.locator("#notices .toast.error")).to_contain_text(
        f"Refused: demo task {task_id[:8]} has ended already (SUCCESS)"
    )


def page_is_no_wider_than_the_window(page: Page) -> bool:
    return bool(page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"))


def test_the_page_fits_a_phone_and_a_laptop_window(signed_in: Page) -> None:
    """Nothing pushes the page wider than the window: the bar at the top wraps, and a wide
    table scrolls inside its card. At 1280 pixels a running task's Cancel button shows."""
    page = signed_in
    page.on("dialog", lambda dialog: dialog.accept())
    start_demo(page, "0", "fail")  # a Finished row with an error and Retry: the widest kind
    expect(page.locator("#finished-rows tr.task-row")).to_have_count(1, timeout=30_000)
    start_demo(page, "30", "succeed")
    running = page.locator("#active-rows tr.task-row").first
    expect(running).to_have_attribute("data-state", "PROGRESS", timeout=30_000)

    page.set_viewport_size({"width": 390, "height": 844})
    expect(page.locator("#demo-form")).to_be_in_viewport()
    assert page_is_no_wider_than_the_window(page)
    # On a phone the running task's row stacks: its progress and Cancel in view, no scrolling.
    card = page.locator(".card", has=page.locator("#active-rows"))
    assert card.evaluate("(card) => card.scrollWidth <= card.clientWidth")
    running.scroll_into_view_if_needed()
    expect(running.locator("button.cancel")).to_be_in_viewport()
    expect(running.locator("progress")).to_be_in_viewport()
    # The workers stack too, and the hosts' gauges come before the Finished list (QA).
    expect(page.locator("#fleet tr.worker-row")).not_to_have_count(0, timeout=15_000)
    assert page.locator("#fleet").evaluate("(card) => card.scrollWidth <= card.clientWidth")
    expect(page.locator("#fleet [data-metric=done]").first).to_be_visible()
    gauges, finished = page.locator("#host-gauges"), page.locator("#finished-tasks")
    assert gauges.bounding_box()["y"] < finished.bounding_box()["y"]  # type: ignore[index]
    # The disks table too, on the narrowest phone (QA: "total" was cut off at 360).
    page.set_viewport_size({"width": 360, "height": 740})
    assert gauges.evaluate("(card) => card.scrollWidth <= card.clientWidth")
    # A tablet's width and a small laptop's: no list scrolls sideways to reach Cancel, Retry
    # or a runtime (QA: at 768 Cancel was cut in half, and Runtime and Retry out of view).
    lists = [
        card,
        page.locator("#fleet"),
        page.locator(".card", has=page.locator("#finished-rows")),
    ]
    for width in (768, 900, 1180, 1280):
        page.set_viewport_size({"width": width, "height": 900})
        assert page_is_no_wider_than_the_window(page)
        for listing in lists:
            fits = listing.evaluate("(card) => card.scrollWidth <= card.clientWidth")
            assert fits, (width, listing.evaluate("(card) => card.textContent.slice(0, 40)"))
    running.locator("button.cancel").click()  # tidy: leave no 30-second task behind
    expect(page.locator("#active-rows tr.task-row")).to_have_count(0, timeout=10_000)


def test_finished_rows_stack_on_a_phone(
    signed_in: Page, live_server: str, live_state: Path
) -> None:
    """At 390 pixels a finished row's result, time and Retry are in view without scrolling
    sideways; at 1280 it is a table row again."""
    page = signed_in
    me = page.request.get(f"{live_server}/api/me").json()
    moment = utcnow()
    preview = "3.1415926535897932384626433832795028841971693993751"
    insert_tasks(
        live_state,
        Task(id=f"phone-pi-{me['id']}", owner_id=me["id"], kind="pi",
             params={"digits": 200_000, "method": "chudnovsky"}, state="SUCCESS",
             result={"digits": 200_000, "preview": preview, "file": "files/x.txt"},
             queued_at=moment, started_at=moment, finished_at=moment),
        Task(id=f"phone-failed-{me['id']}", owner_id=me["id"], kind="demo",
             params={"seconds": 3, "should_fail": True}, state="FAILURE",
             error="DemoFailure: the demo task failed as asked, after 3 s",
             queued_at=moment, started_at=moment, finished_at=moment),
    )  # fmt: skip
    page.set_viewport_size({"width": 390, "height": 844})
    page.reload()
    card = page.locator("#finished-tasks")
    expect(card.locator("tr.task-row")).to_have_count(2)
    assert card.evaluate("(card) => card.scrollWidth <= card.clientWidth")
    failed = page.locator(f"#task-phone-failed-{me['id']}")
    failed.scroll_into_view_if_needed()
    for part in ("button.retry", ".error-text", "td:nth-child(7)"):
        expect(failed.locator(part)).to_be_in_viewport()
    page.set_viewport_size({"width": 1280, "height": 900})
    expect(card.locator("thead")).to_be_visible()


# Run in the page: whether every option of every choice in the forms starts right of its legend.
OPTIONS_BESIDE_LEGENDS = """() => Array.from(document.querySelectorAll("fieldset.choices")).every(
  (set) => {
    const legend = set.querySelector("legend").getBoundingClientRect();
    return Array.from(set.querySelectorAll("label")).every(
      (label) => label.getBoundingClientRect().left >= legend.right);
  })"""


def test_the_start_forms_choices_read_well_on_a_phone(signed_in: Page) -> None:
    page = signed_in
    page.set_viewport_size({"width": 390, "height": 844})
    assert page.evaluate(OPTIONS_BESIDE_LEGENDS)  # a wrapped option stays beside its legend
    # Rows are for sample data: a history export has as many as the history.
    expect(page.locator("#csv-rows")).to_be_visible()
    page.check("#csv-form input[value=history]")
    expect(page.locator("#csv-rows")).to_be_hidden()
    page.check("#csv-form input[value=sample]")
    expect(page.locator("#csv-rows")).to_be_visible()


def test_html_in_a_task_is_shown_as_text_and_never_runs(
    signed_in: Page, live_server: str, live_state: Path
) -> None:
    page = signed_in
    me = page.request.get(f"{live_server}/api/me").json()
    hostile = '<img src=x onerror="window.pwned=1"><script>window.pwned=2</script>'
    moment = utcnow()
    insert_tasks(
        live_state,
        Task(
            id="hostile-task-1",
            owner_id=me["id"],
            kind="demo",
            params={"note": hostile},
            state="FAILURE",
            error=hostile,
            queued_at=moment,
            started_at=moment,
            finished_at=moment,
        ),
    )
    page.goto(live_server)
    row = page.locator("#finished-rows #task-hostile-task-1")
    expect(row.locator(".error-text")).to_have_text(hostile)
    expect(row.locator(".params")).to_contain_text("<script>window.pwned=2</script>")
    page.goto(f"{live_server}/tasks/hostile-task-1")
    expect(page.locator("#task-detail .error-text")).to_have_text(hostile)
    assert page.evaluate("window.pwned") is None
    expect(page.locator("#task-detail img")).to_have_count(0)


def test_a_time_from_an_earlier_day_shows_its_day(
    signed_in: Page, live_server: str, live_state: Path
) -> None:
    page = signed_in
    me = page.request.get(f"{live_server}/api/me").json()
    long_ago = datetime(2024, 3, 5, 10, 0, 0, tzinfo=UTC)
    insert_tasks(
        live_state,
        Task(id=f"old-{me['id']}", owner_id=me["id"], kind="demo", params={"seconds": 1},
             state="SUCCESS", queued_at=long_ago, started_at=long_ago, finished_at=long_ago),
    )  # fmt: skip
    page.reload()
    old = page.locator(f"#task-old-{me['id']} time").last
    # In the viewer's zone and language, by the page's script: not the server's UTC text.
    expect(old).not_to_have_text("2024-03-05 10:00")
    expect(old).to_have_text(re.compile(r"2024"))
    expect(old).to_have_attribute("title", re.compile(r"2024"))
    assert old.get_attribute("title") != old.get_attribute("datetime")
    start_demo(page, "0")
    today = page.locator("#finished-rows tr.task-row").first.locator("time").last
    expect(today).to_have_text(re.compile(r"^\d\d:\d\d:\d\d$"), timeout=30_000)


# How many lines an element's text takes: one box per line of a range over it.
LINES_OF_TEXT = """element => {
  const range = document.createRange();
  range.selectNodeContents(element);
  return range.getClientRects().length;
}"""


@pytest.mark.parametrize(("width", "shown"), [(1280, 4), (360, 2)])
def test_a_burst_of_endings_shows_a_few_notices_and_counts_the_rest(
    signed_in: Page, live_server: str, width: int, shown: int
) -> None:
    """Fewer on a phone, where four covered a third of the screen (QA)."""
    page = signed_in
    page.set_viewport_size({"width": width, "height": 844})
    expect(page.locator("#connection")).to_have_text("live", timeout=15_000)
    # Notices stay for the whole test, so that none leaves by its own timer meanwhile.
    page.evaluate("document.getElementById('task-toasts').dataset.toastSeconds = '600'")
    for _ in range(6):
        started = page.request.post(
            f"{live_server}/api/tasks/demo",
            data={"seconds": 0, "should_fail": False},
            headers=csrf_headers(page),
        )
        assert started.status == 202
    expect(page.locator("#finished-rows tr.task-row")).to_have_count(6, timeout=30_000)
    toasts = page.locator("#task-toasts .toast[data-task-id]")
    expect(toasts).to_have_count(shown)
    more = page.locator("#task-toasts .toast-more")
    expect(more).to_have_text(re.compile(rf"^{6 - shown} more of your tasks have ended\."))
    assert page.locator("#task-toasts .toast").first.get_attribute("class") == "toast toast-more"
    expect(more.locator("a")).to_have_attribute("href", "#finished-list")
    # "See all" keeps to one line at the narrowest width too (it broke in two at 360 px: QA).
    assert more.locator("a").evaluate(LINES_OF_TEXT) == 1
    more.locator(".toast-close").click()
    expect(more).to_have_count(0)
    expect(toasts).to_have_count(shown)


def test_the_active_heading_and_the_window_title_count_the_work(signed_in: Page) -> None:
    page = signed_in
    page.on("dialog", lambda dialog: dialog.accept())
    expect(page.locator("#connection")).to_have_text("live", timeout=15_000)
    count = page.locator("#active-count")
    expect(count).to_have_text("")
    expect(page).to_have_title("dashboard")
    start_demo(page, "30", "succeed")
    expect(count).to_have_text("1 running", timeout=30_000)
    expect(page).to_have_title("(1) dashboard")

    # Two more: how many run at once depends on the worker's pool, so the rows are the oracle,
    # read in the same moment as the count.
    for _ in range(2):
        page.click("#demo-form button")
    expect(page).to_have_title("(3) dashboard")
    shown, states = page.evaluate(
        """() => [document.getElementById("active-count").textContent,
                  Array.from(document.querySelectorAll("#active-rows tr.task-row"),
                             (row) => row.dataset.state)]"""
    )
    queued = states.count("QUEUED")
    assert shown == " · ".join([f"{3 - queued} running"] + [f"{queued} queued"] * (queued > 0))

    rows = page.locator("#active-rows tr.task-row")
    for row_id in rows.evaluate_all("rows => rows.map((row) => row.id)"):
        page.locator(f"#active-rows #{row_id} button.cancel").click()
    expect(count).to_have_text("")
    expect(page).to_have_title("dashboard")


def queue_backlog(live_state: Path, owner_id: int, prefix: str, count: int) -> list[str]:
    """`count` rows queued an hour from now, a second apart (so after any task the test starts,
    by their times), the oldest first; rows only: no worker will take them. Their ids."""
    later = utcnow() + timedelta(hours=1)
    backlog = [
        Task(id=f"{prefix}-{owner_id}-{number}", owner_id=owner_id, kind="demo",
             params={"seconds": 1}, state="QUEUED", queued_at=later + timedelta(seconds=number))
        for number in range(count)
    ]  # fmt: skip
    ids = [task.id for task in backlog]  # read before the rows are stored
    insert_tasks(live_state, *backlog)
    return ids


def test_a_long_queue_shows_what_runs_and_says_it_is_cut(
    signed_in: Page, live_server: str, live_state: Path
) -> None:
    page = signed_in
    page.on("dialog", lambda dialog: dialog.accept())
    me = page.request.get(f"{live_server}/api/me").json()
    # Queued after the task that will run (their times say so): the newest by queue time
    # alone would leave the running one out.
    backlog_ids = queue_backlog(live_state, me["id"], "backlog", ACTIVE_LIMIT + 20)
    try:
        start_demo(page, "30")
        running = page.locator("#active-rows tr[data-state=PROGRESS]")
        expect(running).to_have_count(1, timeout=30_000)
        page.reload()  # the list as the server reads it: the running task, then the newest queued
        rows = page.locator("#active-rows tr.task-row")
        expect(rows).to_have_count(ACTIVE_LIMIT)
        expect(running).to_have_count(1)
        # At the top, above the queue (QA: with a backlog it sank to the bottom).
        expect(rows.first).to_have_attribute("data-state", "PROGRESS")
        queued = ACTIVE_LIMIT - 1
        expect(page.locator("#active-count")).to_have_text(f"1 running · {queued}+ queued")
        expect(page).to_have_title(f"({ACTIVE_LIMIT}+) dashboard")
        expect(page.locator("#active-tasks")).to_contain_text("Older queued tasks show here")
        oldest_shown = page.locator(f"#active-rows #task-backlog-{me['id']}-21")
        expect(oldest_shown).to_have_count(1)
        # Another task starts: its row comes by its events, and the list keeps its length,
        # the oldest queued row shown giving way.
        start_demo(page, "30")
        expect(running).to_have_count(2, timeout=30_000)
        expect(page.locator("#active-rows tr.task-row")).to_have_count(ACTIVE_LIMIT)
        # Both running rows head the list, above the queue. (Which of the two comes first
        # depends on whether the new row's first event said QUEUED or already STARTED.)
        for index in (0, 1):
            expect(rows.nth(index)).to_have_attribute("data-state", "PROGRESS")
        expect(oldest_shown).to_have_count(0)
        expect(page.locator("#active-count")).to_have_text(f"2 running · {queued - 1}+ queued")
        # One at a time: a second click before the first one's row leaves would cancel the
        # same task again (refused: it has ended) and leave the other running.
        for remaining in (1, 0):
            running.first.locator("button.cancel").click()
            expect(running).to_have_count(remaining)
    finally:
        delete_tasks(live_state, backlog_ids)


def test_a_cut_list_that_has_room_again_shows_the_queued_tasks_it_could_not(
    signed_in: Page, live_server: str, live_state: Path
) -> None:
    """QA: "360+ queued" stayed on the page after the queue had shrunk to fit the list."""
    page = signed_in
    me = page.request.get(f"{live_server}/api/me").json()
    ids = queue_backlog(live_state, me["id"], "room", ACTIVE_LIMIT + 3)
    try:
        page.reload()
        expect(page.locator("#active-count")).to_have_text(f"{ACTIVE_LIMIT}+ queued")
        oldest = page.locator(f"#active-rows #task-{ids[0]}")
        expect(oldest).to_have_count(0)  # one of the three the list could not show
        headers = csrf_headers(page)
        for task_id in ids[-5:]:  # five of the newest end: the list has room for the rest
            answer = page.request.post(f"{live_server}/api/tasks/{task_id}/cancel", headers=headers)
            assert answer.ok, answer.text()
        left = ACTIVE_LIMIT + 3 - 5
        expect(page.locator("#active-count")).to_have_text(f"{left} queued", timeout=15_000)
        expect(page).to_have_title(f"({left}) dashboard")
        expect(page.locator("#active-rows tr.task-row")).to_have_count(left)
        expect(oldest).to_have_count(1)
        expect(page.locator("#active-capped")).to_be_hidden()
    finally:
        delete_tasks(live_state, ids)


def test_the_api_docs_lead_back_to_the_page(signed_in: Page, live_server: str) -> None:
    """QA: /docs had no way back to the dashboard."""
    page = signed_in
    page.goto(f"{live_server}/docs")
    back = page.get_by_role("link", name="← back to the dashboard")
    expect(back).to_be_visible(timeout=15_000)
    expect(back).to_have_attribute("href", "/")  # Swagger UI opens it in a new tab


def test_a_retry_past_the_task_limit_says_why_and_stays(
    signed_in: Page, live_server: str, live_state: Path
) -> None:
    """QA: at the limit, Retry on a task's page went to /tasks/undefined, and in the Finished
    list it said nothing (htmx swaps a 429 like an answer, so reports no error)."""
    page = signed_in
    me = page.request.get(f"{live_server}/api/me").json()
    failed_id = f"refused-retry-{me['id']}"
    moment = utcnow()
    insert_tasks(live_state, Task(id=failed_id, owner_id=me["id"], kind="demo",
                                  params={"seconds": 1, "should_fail": True}, state="FAILURE",
                                  error="DemoFailure: as asked", queued_at=moment,
                                  started_at=moment, finished_at=moment))  # fmt: skip
    backlog = queue_backlog(live_state, me["id"], "limit", LIVE_TASK_LIMIT)
    refusal = f"Refused: you have {LIVE_TASK_LIMIT} tasks queued or running"
    try:
        page.goto(f"{live_server}/tasks/{failed_id}")
        page.get_by_role("button", name=f"Retry demo task {failed_id[:8]}").click()
        expect(page.locator("#notices .toast.error")).to_contain_text(refusal)
        expect(page).to_have_url(f"{live_server}/tasks/{failed_id}")
        open_page(page, live_server)
        page.locator(f"#finished-rows #task-{failed_id} button.retry").click()
        expect(page.locator("#notices .toast.error").last).to_contain_text(refusal)
    finally:
        delete_tasks(live_state, [*backlog, failed_id])


def test_a_page_past_the_stream_limit_says_so_and_goes_live_once_others_close(
    signed_in: Page, live_server: str
) -> None:
    """The stream limit's 429 left the page saying "reconnecting…" for ever: an EventSource
    never learns why it was refused."""
    page = signed_in
    limit = Settings.model_fields["user_max_streams"].default
    cookies = {cookie["name"]: cookie["value"] for cookie in page.context.cookies()}
    with (
        httpx.Client(base_url=live_server, cookies=cookies, timeout=30) as client,
        ExitStack() as held,
    ):
        page.goto(f"{live_server}/account")  # the page's own stream closes
        for _ in range(limit - 1):  # headers back: each counts against the limit
            stream = held.enter_context(client.stream("GET", "/api/events"))
            assert stream.status_code == 200
        # Room for one more once the server has let go of the page's stream.
        wait_until(lambda: client.head("/events").status_code == 200, "the page's stream", 30)
        assert held.enter_context(client.stream("GET", "/api/events")).status_code == 200
        assert client.head("/events").status_code == 429  # the limit, reached
        page.goto(live_server)
        badge = page.locator("#connection")
        expect(badge).to_have_text("not live: too many pages open, close some")
        expect(badge).to_have_attribute("data-state", "refused")
    # The stream's own retries find room (they back off, so give them time).
    expect(page.locator("#connection")).to_have_text("live", timeout=60_000)


def test_pausing_holds_the_page_still_and_resuming_brings_what_came_meanwhile(
    signed_in: Page, live_server: str, console_errors: list[str]
) -> None:
    """WCAG 2.2.2: what moves by itself can be paused. The stream stays open meanwhile, so
    nothing is missed: a task started and ended while paused shows up on resume."""
    page = signed_in
    page.get_by_role("button", name="Pause updates").click()
    resume = page.get_by_role("button", name="Resume updates")
    expect(resume).to_be_focused()
    badge = page.locator("#connection")
    expect(badge).to_have_attribute("data-state", "paused")
    sample = page.locator("#host-gauges time").get_attribute("datetime")
    started = page.request.post(
        f"{live_server}/api/tasks/demo",
        data={"seconds": 3, "should_fail": False},
        headers=csrf_headers(page),
    )
    assert started.status == 202
    task_id = started.json()["id"]
    wait_until(
        lambda: page.request.get(f"{live_server}/api/tasks/{task_id}").json()["state"] == "SUCCESS",
        "the task to end",
        30,
    )
    page.wait_for_timeout(1500)
    # Held, and counted, each thing once: the task's latest state (not each of its progress
    # ticks, four a second), its notice, the latest gauges and workers.
    waiting = re.fullmatch(r"paused: (\d+) updates? waiting", badge.inner_text())
    assert waiting is not None and 2 <= int(waiting.group(1)) <= 5, badge.inner_text()
    row = page.locator(f"#task-{task_id}")
    expect(row).to_have_count(0)
    assert page.locator("#host-gauges time").get_attribute("datetime") == sample
    resume.click()
    expect(page.get_by_role("button", name="Pause updates")).to_be_focused()
    expect(badge).to_have_text("live")
    expect(page.locator("#finished-rows").locator(row)).to_have_attribute("data-state", "SUCCESS")
    expect(page.locator(f"#task-toasts .toast[data-task-id='{task_id}']")).to_have_count(1)
    assert page.locator("#host-gauges time").get_attribute("datetime") != sample
    assert console_errors == []
