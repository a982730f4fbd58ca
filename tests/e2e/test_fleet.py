"""The page's Workers section shows the worker of `dashboard run`, live, with its gauges."""

import re
import socket
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.e2e


def test_the_fleet_section_shows_the_running_worker(
    signed_in: Page, artifacts: Path, console_errors: list[str]
) -> None:
    page = signed_in
    row = page.locator('#fleet .worker-row[data-online="true"]').first
    expect(row).to_be_visible(timeout=20_000)
    expect(row).to_contain_text(socket.gethostname())
    expect(row).to_contain_text(re.compile(r"prefork \u00d7 \d+"))
    expect(row.locator(".badge")).to_have_text("online")
    expect(row.locator("[data-metric=cpu]")).to_have_text(re.compile(r"^\d+ %$"))
    expect(row.locator("[data-metric=memory]")).to_have_text(re.compile(r"^\d+ %$"))
    expect(row.locator(".mount").first).to_contain_text("/")
    expect(row.locator("[data-metric=disk]").first).to_have_text(re.compile(r"^\d+ %$"))
    # The section is swapped by each `fleet` event: the worker's last report moves on.
    first_report = row.locator("time").first.get_attribute("datetime")
    expect(page.locator("#fleet .worker-row time").first).not_to_have_attribute(
        "datetime", first_report or "", timeout=15_000
    )
    page.locator("#fleet").screenshot(path=str(artifacts / "fleet.png"))
    page.screenshot(path=str(artifacts / "dashboard-fleet.png"), full_page=True)
    assert console_errors == []
