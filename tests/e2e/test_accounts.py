"""Two people in two browsers: each sees only their own tasks, toasts and files."""

import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.accounts import PASSWORD, unique_email
from tests.e2e.conftest import (
    RECORD_PROGRESS,
    csrf_headers,
    log_in,
    make_account,
    open_page,
    register,
    start_demo,
)
from tests.processes import free_port

pytestmark = pytest.mark.e2e


def test_a_csv_export_from_register_to_download_seen_by_its_owner_only(
    page: Page,
    browser: Browser,
    browser_type_launch_args: dict[str, object],
    live_server: str,
    artifacts: Path,
    tmp_path: Path,
) -> None:
    first = unique_email("first")
    register(page, live_server, first)
    page.click(".topbar button:has-text('log out')")
    expect(page).to_have_url(re.compile(r"/login$"))
    log_in(page, live_server, first)
    open_page(page, live_server)

    # A second person, in a browser context of their own, is watching their page meanwhile.
    other_context = browser.new_context()
    other = other_context.new_page()
    register(other, live_server, unique_email("second"))
    open_page(other, live_server)

    page.evaluate(RECORD_PROGRESS)
    page.fill("#csv-rows", "100000")
    page.check("input[name=source][value=sample]")
    page.click("#csv-form button")
    link = page.locator("#csv-form .notice a")
    expect(link).to_be_visible()
    task_id = (link.get_attribute("href") or "").rsplit("/", 1)[-1]
    row = page.locator(f"#finished-rows #task-{task_id}")
    expect(row).to_have_attribute("data-state", "SUCCESS", timeout=60_000)
    expect(row).to_contain_text("100,000 rows")
    seen = page.evaluate("window.progressSeen")
    assert any(0 < value < 100 for value in seen), f"the bar showed only {sorted(set(seen))}"
    toast = page.locator(f"#task-toasts .toast[data-task-id='{task_id}']")
    expect(toast).to_contain_text("Your CSV of 100,000 sample rows is done")
    page.screenshot(path=str(artifacts / "csv-export.png"), full_page=False)

    with page.expect_download() as download_info:
        row.locator("a.download").click()
    download = download_info.value
    assert download.suggested_filename == f"sample-100000-rows-{task_id[:8]}.csv"
    saved = tmp_path / download.suggested_filename
    download.save_as(saved)
    lines = saved.read_text().splitlines()
    assert lines[0] == "id,timestamp,name,category,value" and len(lines) == 100_001
    assert lines[1].startswith("1,") and lines[-1].startswith("100000,")

    # The second person saw none of it, and may not fetch the file.
    expect(other.locator(f"#task-{task_id}")).to_have_count(0)
    expect(other.locator("#task-toasts .toast")).to_have_count(0)
    assert task_id not in other.content()
    refused = other_context.request.get(f"{live_server}/api/tasks/{task_id}/file")
    assert refused.status == 403
    status = other_context.request.get(f"{live_server}/api/tasks/{task_id}")
    assert status.status == 403 and status.json()["state"] == "PROTECTED"
    other_context.close()


def test_a_stranger_is_sent_to_the_login_page(page: Page, live_server: str) -> None:
    page.goto(f"{live_server}/tasks/whatever")
    expect(page).to_have_url(re.compile(r"/login\?next=%2Ftasks%2Fwhatever$"))
    expect(page.locator("#login-form")).to_be_visible()


def test_a_wrong_password_and_a_taken_email_say_so(page: Page, live_server: str) -> None:
    email = unique_email("taken")
    register(page, live_server, email)
    page.context.clear_cookies()
    page.goto(f"{live_server}/login")
    page.fill("#login-email", email)
    page.fill("#login-password", "not my password")
    page.click("#login-form button")
    expect(page.locator("#login-form .form-error")).to_have_text("Wrong e-mail or password.")
    # The keyboard is where the likelier slip is, and both fields point at the message (a11y).
    password = page.get_by_label("Password")
    expect(password).to_be_focused()
    expect(password).to_have_attribute("aria-invalid", "true")
    expect(password).to_have_accessible_description("Wrong e-mail or password.")
    page.goto(f"{live_server}/register")
    page.fill("#register-email", email)
    page.fill("#register-password", "long enough password")
    page.click("#register-form button")
    expect(page.locator("#register-email-error")).to_contain_text("exists already")
    expect(page.locator("#register-email")).to_be_focused()
    page.fill("#register-email", unique_email("short"))
    page.fill("#register-password", "short")
    page.click("#register-form button")
    expect(page.locator("#register-password-error")).not_to_be_empty()
    expect(page.locator("#register-password")).to_be_focused()  # not the e-mail, which was fine


def test_a_page_whose_session_ends_goes_to_the_login_page(page: Page, live_server: str) -> None:
    register(page, live_server, unique_email("leaving"))
    open_page(page, live_server)
    # A stream error while still logged in changes nothing: the extension reconnects.
    with page.expect_response(f"{live_server}/api/me") as still_in:
        page.evaluate("htmx.trigger(document.getElementById('live'), 'htmx:sseError', {})")
    assert still_in.value.status == 200 and page.url == f"{live_server}/"
    # Logged out elsewhere (another tab): this page's stream is refused on its next reconnect.
    answer = page.request.post(f"{live_server}/logout", headers=csrf_headers(page), max_redirects=0)
    assert answer.status == 303
    # The open stream ends with the session, and its reconnect is refused: the page checks
    # and goes to log in, by itself.
    expect(page).to_have_url(re.compile(r"/login\?next=%2F&ended=1$"), timeout=30_000)
    # And says why (QA: an empty login form, with no reason).
    expect(page.locator("#login-notice")).to_contain_text("Your login ended")


def test_the_api_docs_load_without_any_cdn(signed_in: Page, live_server: str) -> None:
    requests: list[str] = []
    signed_in.on("request", lambda request: requests.append(request.url))
    signed_in.goto(f"{live_server}/docs")
    expect(signed_in.locator(".swagger-ui .information-container")).to_contain_text("dashboard")
    expect(signed_in.locator(".opblock-summary-path", has_text="/api/tasks/csv")).to_be_visible()
    assert all(url.startswith(live_server) or url.startswith("data:") for url in requests)


def test_the_api_docs_follow_a_dark_system_theme(signed_in: Page, live_server: str) -> None:
    """They stayed white in dark mode, beside a dark page (QA)."""
    page = signed_in
    page.emulate_media(color_scheme="dark")
    page.goto(f"{live_server}/docs")
    expect(page.locator(".opblock-summary-path", has_text="/api/tasks/csv")).to_be_visible()
    expect(page.locator("html")).to_have_class(re.compile(r"\bdark-mode\b"))
    assert page.locator(".swagger-ui").evaluate(BACKGROUND) == "rgb(28, 32, 34)"
    page.emulate_media(color_scheme="light")
    expect(page.locator("html")).not_to_have_class(re.compile(r"\bdark-mode\b"))
    assert page.locator(".swagger-ui").evaluate(BACKGROUND) != "rgb(28, 32, 34)"


BACKGROUND = "element => getComputedStyle(element).backgroundColor"


# Each page records what its Content-Security-Policy refused, from its first script on.
RECORD_REFUSALS = """
window.refused = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.refused.push(event.violatedDirective + " " + (event.blockedURI || event.sample));
});
"""


def test_the_pages_run_under_their_security_policy_with_nothing_refused(
    signed_in: Page, live_server: str, console_errors: list[str]
) -> None:
    page = signed_in
    page.add_init_script(RECORD_REFUSALS)
    page.reload()
    expect(page.locator("#connection")).to_have_text("live", timeout=15_000)
    start_demo(page, "1", "fail")
    expect(page.locator("#finished-rows tr.task-row").first).to_contain_text("FAILURE")
    row_id = page.locator("#finished-rows tr.task-row").first.get_attribute("id") or ""
    refused = page.evaluate("window.refused")
    for path in ("/account", "/docs", f"/tasks/{row_id.removeprefix('task-')}"):
        page.goto(live_server + path)
        page.wait_for_load_state("networkidle")
        refused += page.evaluate("window.refused")
    expect(page.locator(".task-detail")).to_contain_text("FAILURE")
    assert refused == [] and console_errors == []


def test_a_token_with_a_long_name_keeps_its_revoke_button_in_view(
    signed_in: Page, live_server: str
) -> None:
    page = signed_in
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(f"{live_server}/account")
    page.fill("#token-name", "A" * 100)
    page.click("#token-form button")
    expect(page.locator("#new-token")).to_be_visible()
    card = page.locator("#tokens")
    assert card.evaluate("(card) => card.scrollWidth <= card.clientWidth")
    revoke = page.get_by_role("button", name="Revoke the token " + "A" * 100)
    expect(revoke).to_be_in_viewport()
    page.on("dialog", lambda dialog: dialog.accept())
    revoke.click()
    expect(page.locator("#tokens tr.revoked")).to_have_count(1)


def test_without_script_a_person_logs_in_and_starts_a_task(page_without_script: Page) -> None:
    """The forms are plain HTML forms too: a browser without script logs in (the fixture, through
    the form), starts a task and lands on its page, and a bad value comes back beside its field."""
    page = page_without_script
    page.fill("#demo-seconds", "5000")
    page.click("#demo-form button")
    expect(page.locator("#demo-seconds-error")).to_have_text("enter at most 3,600")
    page.fill("#demo-seconds", "0")
    page.click("#demo-form button")
    expect(page).to_have_url(re.compile(r"/tasks/[0-9a-f-]{36}$"))
    expect(page.locator("#task-detail h1")).to_contain_text("demo task")


def test_without_script_cancel_and_retry_work_as_plain_forms(
    page_without_script: Page, live_server: str
) -> None:
    """They were buttons for htmx alone: without script, a click did nothing (QA finding)."""
    page = page_without_script

    def start_a_long_demo() -> str:
        page.goto(live_server)
        page.fill("#demo-seconds", "60")
        page.check("#demo-form input[name=should_fail][value=succeed]")
        page.click("#demo-form button")
        expect(page).to_have_url(re.compile(r"/tasks/[0-9a-f-]{36}$"))
        return page.url.rsplit("/", 1)[-1]

    def stop_the_retry() -> None:
        """A retry runs for 60 s too: it would hold a worker slot the next tests wait for."""
        page.get_by_role("button", name=re.compile("^Cancel demo task")).click()
        expect(page.locator("#task-detail")).to_contain_text("REVOKED")

    first = start_a_long_demo()
    expect(page.locator(".topbar .connection[data-state=static]")).to_be_visible()
    page.get_by_role("button", name=f"Cancel demo task {first[:8]}").click()
    expect(page).to_have_url(re.compile(f"/tasks/{first}$"))
    expect(page.locator("#task-detail")).to_contain_text("REVOKED")
    page.get_by_role("button", name=f"Retry demo task {first[:8]}").click()
    expect(page).not_to_have_url(re.compile(f"/tasks/{first}$"))
    expect(page.locator(f"#task-detail dd a[href='/tasks/{first}']")).to_be_visible()
    stop_the_retry()
    # From the front page's lists as well.
    second = start_a_long_demo()
    page.goto(live_server)
    page.get_by_role("button", name=f"Cancel demo task {second[:8]}").click()
    expect(page).to_have_url(re.compile(f"/tasks/{second}$"))
    expect(page.locator("#task-detail")).to_contain_text("REVOKED")
    page.goto(live_server)
    page.get_by_role("button", name=f"Retry demo task {second[:8]}").click()
    expect(page.locator(f"#task-detail dd a[href='/tasks/{second}']")).to_be_visible()
    stop_the_retry()


def test_without_script_the_page_says_it_is_not_live(
    page_without_script: Page, artifacts: Path
) -> None:
    """No badge stuck at "connecting…", and no empty chart card: script draws the chart."""
    page = page_without_script
    note = page.locator(".topbar .connection[data-state=static]")
    expect(note).to_have_text("not live: reload for news")
    expect(page.locator("#connection")).to_be_hidden()
    expect(page.locator("#host-chart")).to_be_hidden()
    expect(page.locator("#finished-tasks")).to_be_visible()
    page.screenshot(path=str(artifacts / "no-script.png"))


# Another origin on this host: a different port is the same site, and cookies do not tell ports
# apart, so it can plant the login form's double-submit cookie as a sibling subdomain could.
ATTACKER_PAGE = """<!doctype html><title>Win a prize</title>
<form id=prize method=post action="{target}/login">
<input type=hidden name=email value="{email}">
<input type=hidden name=password value="{password}">
<input type=hidden name=csrf_token value=planted>
</form>
<script>document.cookie = "dashboard_csrf=planted; path=/"; prize.submit();</script>"""


@contextmanager
def attacker_site(page_html: str) -> Iterator[str]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = page_html.encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/"
    finally:
        server.shutdown()
        server.server_close()


def test_another_site_that_plants_the_login_cookie_cannot_log_a_person_in(
    page: Page, live_server: str, live_state: Path
) -> None:
    """Login CSRF: a person who opens the attacker's page must not end up working, unawares,
    in the attacker's account (where what they start is the attacker's to read)."""
    attacker = make_account(live_state, "attacker")
    html = ATTACKER_PAGE.format(target=live_server, email=attacker, password=PASSWORD)
    with attacker_site(html) as address:
        page.goto(address)
        expect(page.locator("main")).to_contain_text("sent from another site's page")
    page.goto(live_server)
    expect(page).to_have_url(re.compile(r"/login"))
    expect(page.locator(".topbar .who")).to_have_count(0)


def test_changing_the_password_logs_out_the_other_browser(
    page: Page, browser: Browser, live_server: str, live_state: Path
) -> None:
    email = make_account(live_state, "changer")
    log_in(page, live_server, email)
    elsewhere = browser.new_context()
    other = elsewhere.new_page()
    try:
        log_in(other, live_server, email)
        open_page(other, live_server)
        page.goto(f"{live_server}/account")
        page.fill("#current-password", "not my password")
        page.fill("#new-password", "a brand new passphrase")
        page.click("#password-form button")
        expect(page.locator("#current-password-error")).to_have_text("Wrong password.")
        page.fill("#current-password", PASSWORD)
        page.fill("#new-password", "a brand new passphrase")
        page.click("#password-form button")
        expect(page.locator("#password .notice")).to_contain_text("1 other login ended")
        # The other browser's live page hears its login end, and goes to log in.
        expect(other).to_have_url(re.compile(r"/login\?next=%2F&ended=1$"), timeout=30_000)
        page.goto(f"{live_server}/")  # this one goes on
        expect(page.locator(".topbar .who")).to_contain_text(email.lower())
        log_in(other, live_server, email, password="a brand new passphrase")
    finally:
        elsewhere.close()


def test_on_a_phone_the_tokens_fit_their_card(
    signed_in: Page, live_server: str, artifacts: Path
) -> None:
    """QA: at 390 pixels the tokens table was wider than its card, "last used" cut off."""
    page = signed_in
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"{live_server}/account")
    page.fill("#token-name", "phone script")
    page.click("#token-form button")
    expect(page.locator("#new-token")).to_be_visible()
    card = page.locator("#tokens")
    page.screenshot(path=str(artifacts / "tokens-phone.png"), full_page=True)
    assert card.evaluate("(card) => card.scrollWidth <= card.clientWidth")
    revoke = page.get_by_role("button", name="Revoke the token phone script")
    revoke.scroll_into_view_if_needed()  # below the form: only its width is in question
    expect(revoke).to_be_in_viewport()
