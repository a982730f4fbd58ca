"""What a keyboard or screen reader user gets: the focus kept where they were across swaps,
notices they can reach and read, and names for what the page shows."""

import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import insert_finished_demos, log_in, start_demo

pytestmark = pytest.mark.e2e


def created_id(page: Page, form: str) -> str:
    link = page.locator(f"{form} .notice a").get_attribute("href") or ""
    return link.rsplit("/", 1)[-1]


def started_demo(page: Page, seconds: str) -> str:
    """A demo that succeeds after `seconds`, started from its form: its id."""
    start_demo(page, seconds, "succeed")
    return created_id(page, "#demo-form")


def demo_page(page: Page, live_server: str, seconds: str) -> str:
    """Such a demo's own page, opened: the task's id."""
    task_id = started_demo(page, seconds)
    page.goto(f"{live_server}/tasks/{task_id}")
    return task_id


def press(page: Page, name: str, key: str = "Enter") -> None:
    """Presses `key` on the button named `name`, as a keyboard user would: once the last
    swap has settled, when htmx has made its new buttons work (20 ms after it, no person is
    quicker)."""
    page.wait_for_function("() => !document.querySelector('.htmx-settling')")
    page.get_by_role("button", name=name, exact=True).focus()
    page.keyboard.press(key)


def test_a_start_forms_button_keeps_the_focus_after_its_answer(signed_in: Page) -> None:
    """The answer replaces the form: its button had no id, and the focus fell to <body>."""
    page = signed_in
    page.fill("#demo-seconds", "-1")
    press(page, "Create task!")
    expect(page.locator("#demo-seconds-error")).not_to_be_empty()  # refused: 422
    expect(page.get_by_role("button", name="Create task!")).to_be_focused()
    page.fill("#demo-seconds", "0")
    press(page, "Create task!")
    expect(page.locator("#demo-form .notice")).to_contain_text("Started")
    expect(page.get_by_role("button", name="Create task!")).to_be_focused()


def test_cancel_gives_the_focus_to_retry_when_its_row_moves_to_finished(signed_in: Page) -> None:
    page = signed_in
    page.on("dialog", lambda dialog: dialog.accept())
    task_id = started_demo(page, "30")
    row = page.locator(f"#active-rows #task-{task_id}")
    expect(row).to_have_attribute("data-state", "PROGRESS", timeout=30_000)
    press(page, f"Cancel demo task {task_id[:8]}")
    expect(page.locator(f"#finished-rows #task-{task_id}")).to_have_attribute(
        "data-state", "REVOKED", timeout=10_000
    )
    expect(page.get_by_role("button", name=f"Retry demo task {task_id[:8]}")).to_be_focused()


def test_the_task_pages_cancel_gives_the_focus_to_retry_when_the_task_ends(
    signed_in: Page, live_server: str
) -> None:
    page = signed_in
    page.on("dialog", lambda dialog: dialog.accept())
    task_id = demo_page(page, live_server, "30")
    detail = page.locator("#task-detail")
    expect(detail).to_have_attribute("data-state", "PROGRESS", timeout=30_000)
    press(page, f"Cancel demo task {task_id[:8]}")
    expect(detail).to_have_attribute("data-state", "REVOKED", timeout=10_000)
    expect(page.get_by_role("button", name=f"Retry demo task {task_id[:8]}")).to_be_focused()


def test_a_task_that_ends_with_no_retry_leaves_the_focus_on_its_pages_heading(
    signed_in: Page, live_server: str
) -> None:
    page = signed_in
    task_id = demo_page(page, live_server, "3")
    detail = page.locator("#task-detail")
    page.get_by_role("button", name=f"Cancel demo task {task_id[:8]}").focus()
    expect(detail).to_have_attribute("data-state", "SUCCESS", timeout=30_000)
    expect(page.get_by_role("heading", level=1)).to_be_focused()


def test_the_token_forms_buttons_keep_the_focus(signed_in: Page, live_server: str) -> None:
    """Create (refused for want of a name, then made) and Revoke replace the tokens' card."""
    page = signed_in
    page.on("dialog", lambda dialog: dialog.accept())
    page.goto(f"{live_server}/account")
    create = page.get_by_role("button", name="Create token")
    press(page, "Create token")
    expect(page.locator("#token-name-error")).not_to_be_empty()
    expect(create).to_be_focused()
    page.fill("#token-name", "focus test")
    press(page, "Create token")
    expect(page.locator("#new-token")).to_be_visible()
    # What is to be done next: copy the token, shown this once (QA: the focus went back to
    # the name, after the token and its Copy button).
    expect(page.get_by_role("button", name="Copy the new token")).to_be_focused()
    prefix = (page.locator("#new-token").text_content() or "")[:12]
    press(page, f"Revoke the token focus test ({prefix}…)")
    expect(page.locator("#token-rows tr", has_text="focus test")).to_contain_text("revoked")
    expect(page.get_by_role("heading", name="API tokens")).to_be_focused()


def test_restart_keeps_the_focus_in_the_processes_card(
    page: Page, live_server: str, admin_email: str
) -> None:
    log_in(page, live_server, admin_email)
    page.goto(f"{live_server}/processes")
    page.on("dialog", lambda dialog: dialog.accept())
    beat = page.locator("#process-beat")
    expect(beat).to_have_attribute("data-state", "running")
    with page.expect_response(re.compile(r"/processes/beat/restart")):
        press(page, "Restart beat")
    # Its own button again, or the card's heading while beat restarts and has none.
    expect(page.locator("#processes").locator(":focus")).to_have_count(1)
    expect(beat).to_have_attribute("data-state", "running", timeout=60_000)


def test_a_notice_stays_while_the_keyboard_is_on_it_and_escape_closes_it(signed_in: Page) -> None:
    page = signed_in
    page.evaluate("document.getElementById('task-toasts').dataset.toastSeconds = '2'")
    task_id = started_demo(page, "0")
    link = page.get_by_role("link", name=f"Open demo task {task_id[:8]}")
    link.focus()  # from Create task!, where the start left the focus
    page.wait_for_timeout(3000)  # longer than a notice lasts unattended
    expect(link).to_be_visible()
    page.keyboard.press("Escape")
    expect(link).to_have_count(0)
    expect(page.get_by_role("button", name="Create task!")).to_be_focused()


def test_a_notice_stays_while_pointed_at_and_goes_once_let_go(signed_in: Page) -> None:
    page = signed_in
    page.evaluate("document.getElementById('task-toasts').dataset.toastSeconds = '2'")
    task_id = started_demo(page, "0")
    dismiss = page.get_by_role("button", name=f"Dismiss the notice about demo task {task_id[:8]}")
    dismiss.hover()
    page.wait_for_timeout(3000)  # longer than a notice lasts unattended
    expect(dismiss).to_be_visible()
    page.mouse.move(0, 0)
    expect(dismiss).to_have_count(0)


def test_the_task_page_names_its_progress_and_says_the_end_once(
    signed_in: Page, live_server: str
) -> None:
    page = signed_in
    task_id = demo_page(page, live_server, "4")
    bar = page.get_by_role("progressbar", name=f"progress of task {task_id[:8]}")
    expect(bar).to_be_visible(timeout=15_000)
    news = page.get_by_role("status")
    expect(news).to_have_text("")  # progress ticks are not read out
    expect(news).to_have_text(f"demo task {task_id[:8]} ended: SUCCESS", timeout=30_000)


def make_token(page: Page, live_server: str) -> str:
    page.goto(f"{live_server}/account")
    page.fill("#token-name", "copied")
    press(page, "Create token")
    token = page.locator("#new-token")
    expect(token).to_be_visible()
    return token.inner_text().strip()


def test_a_new_token_is_copied_by_its_button_or_selected_by_the_keyboard(
    signed_in: Page, live_server: str
) -> None:
    page = signed_in
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    token = make_token(page, live_server)
    press(page, "Copy the new token")
    expect(page.get_by_role("status").filter(has_text="Copied")).to_have_text(
        "Copied to the clipboard."
    )
    assert page.evaluate("navigator.clipboard.readText()") == token
    # Reached by the keyboard (it stands just before Copy), it is selected, for Ctrl+C.
    page.evaluate("getSelection().removeAllRanges()")
    page.keyboard.press("Shift+Tab")
    expect(page.locator("#new-token")).to_be_focused()
    assert page.evaluate("getSelection().toString().trim()") == token


def test_without_a_clipboard_copy_selects_the_new_token(signed_in: Page, live_server: str) -> None:
    page = signed_in
    token = make_token(page, live_server)
    page.evaluate("Object.defineProperty(navigator, 'clipboard', { value: undefined })")
    press(page, "Copy the new token")
    expect(page.get_by_role("status").filter(has_text="Selected")).to_contain_text("Ctrl+C")
    expect(page.locator("#new-token")).to_be_focused()
    assert page.evaluate("getSelection().toString().trim()") == token


def test_a_started_task_is_said_in_a_status_line(signed_in: Page) -> None:
    page = signed_in
    task_id = started_demo(page, "0")
    started = page.locator("#demo-form").get_by_role("status")
    expect(started).to_have_text(f"Started demo {task_id[:8]}.")


def test_the_gauges_are_named_and_not_read_out_every_second(signed_in: Page) -> None:
    page = signed_in
    gauges = page.locator("#host-gauges")
    expect(gauges.get_by_role("meter", name="CPU", exact=True)).to_be_visible()
    expect(gauges.get_by_role("status")).to_have_count(0)  # a live region, re-read each second
    expect(gauges.get_by_role("meter", name=re.compile(r"^disk \S"))).not_to_have_count(0)
    fleet = page.locator("#fleet")
    expect(fleet.get_by_role("meter", name=re.compile(r"^CPU of "))).not_to_have_count(
        0, timeout=15_000
    )
    expect(fleet.get_by_role("meter", name=re.compile(r"^memory of "))).not_to_have_count(0)
    expect(fleet.get_by_role("meter", name=re.compile(r"^disk \S"))).not_to_have_count(0)


def test_a_fields_hint_and_its_error_describe_it(signed_in: Page, live_server: str) -> None:
    page = signed_in
    page.select_option("#pi-method", "leibniz")
    page.fill("#pi-digits", "11")
    press(page, "Compute pi")
    expect(page.locator("#pi-digits-error")).not_to_be_empty()
    expect(page.get_by_label("Method")).to_have_accessible_description(
        re.compile(r"Leibniz: up to 10\.")
    )
    expect(page.get_by_label("Rows")).to_have_accessible_description(re.compile(r"1 to 10,000,000"))
    # Its message too, when it has one.
    for field in ("pi-method", "csv-rows"):
        expect(page.locator(f"#{field}")).to_have_attribute(
            "aria-describedby", f"{field}-hint {field}-error"
        )
    page.goto(f"{live_server}/account")
    expect(page.get_by_label("New password")).to_have_accessible_description(
        re.compile(r"^At least 8 characters")
    )


def contrast_on_white(rgb: str) -> float:
    """WCAG's contrast ratio of a computed colour ("rgb(r, g, b)") against white."""
    channels = [int(part) / 255 for part in re.findall(r"\d+", rgb)[:3]]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    luminance = 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]
    return 1.05 / (luminance + 0.05)


def border_colour(page: Page, selector: str) -> str:
    return str(page.locator(selector).evaluate("(e) => getComputedStyle(e).borderTopColor"))


REFUSED_RED = "rgb(180, 35, 24)"  # --bad


def test_fields_have_visible_edges_and_a_refused_one_is_red(
    signed_in: Page, live_server: str
) -> None:
    page = signed_in
    for field in ("#pi-digits", "#pi-method", "#finished-search"):
        assert contrast_on_white(border_colour(page, field)) >= 3, field
    page.goto(f"{live_server}/account")
    assert contrast_on_white(border_colour(page, "#current-password")) >= 3
    page.fill("#current-password", "not my password")
    page.fill("#new-password", "a new password")
    press(page, "Change password")
    expect(page.locator("#current-password")).to_have_attribute("aria-invalid", "true")
    assert border_colour(page, "#current-password") == REFUSED_RED
    page.fill("#token-name", "")
    press(page, "Create token")
    expect(page.locator("#token-name")).to_have_attribute("aria-invalid", "true")
    assert border_colour(page, "#token-name") == REFUSED_RED


def test_a_running_tasks_page_fits_a_320_pixel_phone(
    signed_in: Page, live_server: str, artifacts: Path
) -> None:
    page = signed_in
    page.on("dialog", lambda dialog: dialog.accept())
    task_id = started_demo(page, "30")
    page.set_viewport_size({"width": 320, "height": 640})
    page.goto(f"{live_server}/tasks/{task_id}")
    detail = page.locator("#task-detail")
    expect(detail).to_have_attribute("data-state", "PROGRESS", timeout=30_000)
    assert detail.evaluate("(card) => card.scrollWidth <= card.clientWidth")
    expect(detail.get_by_role("progressbar")).to_be_in_viewport()
    page.screenshot(path=str(artifacts / "task-320.png"), full_page=True)
    detail.get_by_role("button", name=re.compile("^Cancel")).click()  # tidy
    expect(detail).to_have_attribute("data-state", "REVOKED", timeout=10_000)


def test_the_first_tab_offers_a_way_past_the_top_bar_to_a_page_with_one_h1(
    signed_in: Page,
) -> None:
    page = signed_in
    expect(page.get_by_role("heading", level=1)).to_have_text("Your tasks")
    page.evaluate("document.activeElement.blur()")
    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Skip to content")
    expect(skip).to_be_focused()
    expect(skip).to_be_in_viewport()  # seen when focused
    page.keyboard.press("Enter")
    expect(page.locator("main#live")).to_be_focused()
    expect(page.get_by_role("complementary", name="This machine")).to_have_count(1)
    expect(page.get_by_role("search", name="Finished tasks")).to_have_count(1)


def test_what_a_search_or_show_older_brings_is_said(
    signed_in: Page, live_server: str, live_state: Path
) -> None:
    """The list changed in silence: nothing told a screen reader how many rows came, if any."""
    page = signed_in
    me = page.request.get(f"{live_server}/api/me").json()
    insert_finished_demos(live_state, me["id"], "said", 25)
    page.reload()
    status = page.locator("#finished-status")
    expect(status).to_have_attribute("role", "status")
    page.locator("#finished-search").press_sequentially("no such thing", delay=30)
    expect(status).to_have_text("No finished task matches.")
    page.locator("#finished-search").fill("")
    expect(status).to_have_text("20 finished tasks shown, more below.")
    # Show older is a link acting as a button: Space works on it as on a button.
    page.wait_for_function("() => !document.querySelector('.htmx-settling')")
    page.locator("#finished-more").focus()
    page.keyboard.press("Space")
    expect(page.locator("#finished-rows tr.task-row")).to_have_count(25)
    expect(status).to_have_text("25 finished tasks shown.")


# WCAG's contrast of an element's text against the background it sits on (the nearest
# ancestor's that is not transparent), computed in the page.
CONTRAST = """(element) => {
  const channels = (colour) => colour.match(/[\\d.]+/g).slice(0, 4).map(Number);
  const luminance = ([r, g, b]) => [r, g, b].map((value) => {
    const c = value / 255;
    return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
  }).reduce((sum, c, i) => sum + c * [0.2126, 0.7152, 0.0722][i], 0);
  let node = element, background = null;
  while (node && !background) {
    const colour = channels(getComputedStyle(node).backgroundColor);
    if (colour.length < 4 || colour[3] > 0) background = colour;
    node = node.parentElement;
  }
  const [light, dark] = [luminance(channels(getComputedStyle(element).color)),
                         luminance(background || [255, 255, 255])].sort((a, b) => b - a);
  return (light + 0.05) / (dark + 0.05);
}"""


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_text_keeps_its_contrast_in_the_light_and_the_dark_theme(
    signed_in: Page, scheme: str, artifacts: Path
) -> None:
    page = signed_in
    page.emulate_media(color_scheme=scheme)
    start_demo(page, "0", "fail")
    expect(page.locator("#finished-rows .badge.state-failure").first).to_be_visible()
    page.screenshot(path=str(artifacts / f"theme-{scheme}.png"), full_page=True)
    card = page.locator("#finished-tasks").evaluate("(e) => getComputedStyle(e).backgroundColor")
    assert card == ("rgb(255, 255, 255)" if scheme == "light" else "rgb(21, 27, 38)")
    for selector in ["#finished-tasks h2", "#finished-rows .params", ".field-hint",
                     "#finished-rows .badge.state-failure", "#finished-rows a.task-link",
                     "#demo-seconds", "#finished-search", "#demo-form button[type=submit]",
                     ".muted"]:  # fmt: skip
        ratio = page.locator(selector).first.evaluate(CONTRAST)
        assert ratio >= 4.5, f"{selector}: {ratio:.2f} in the {scheme} theme"
