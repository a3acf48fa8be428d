"""The morning routine on a whole line (forge, bot, workers, dashboard) in a real browser: a pushed intent
appears on the queue by itself, one click approves it, one click merges it, the bot deploys it, and the
service shows up on the Services page."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from pipeline.ledger import IntentState
from tests.fixtures.browser import screenshot
from tests.fixtures.line import NOTES_INTENT as NOTES
from tests.fixtures.line import Rig

pytestmark = [pytest.mark.slow, pytest.mark.browser, pytest.mark.xdist_group("flows")]

PATH = "intents/notes.yaml"
BUILD_TIMEOUT_MS = 240_000


def test_approve_merge_and_see_the_service_running(page: Page, line_rig: Rig) -> None:
    rig = line_rig
    dashboard = f"{rig.url}/dashboard"
    page.goto(f"{dashboard}/")
    page.get_by_label("Token").fill(rig.accounts["bob"].token)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Queue")).to_be_visible()
    page.evaluate("window.__sameDocument = true")

    rig.push({PATH: NOTES}, "Add notes")
    row = page.locator('tr[data-service="notes"]')
    expect(row).to_contain_text("awaiting signoff", timeout=BUILD_TIMEOUT_MS)
    assert page.evaluate("window.__sameDocument") is True, "the queue updated itself"
    screenshot(page, "line-queue")

    page.get_by_role("link", name="Approvals").click()
    page.get_by_role("button", name="Approve notes").click()
    expect(page.get_by_role("status").first).to_contain_text("You approved notes")
    rig.wait_for(PATH, IntentState.APPROVED)

    page.reload()
    screenshot(page, "line-ready-to-merge")
    page.get_by_role("button", name="Merge notes").click()
    expect(page.get_by_role("status").first).to_contain_text("You merged notes")
    deployed = rig.wait_for(PATH, IntentState.DEPLOYED, timeout=BUILD_TIMEOUT_MS / 1000)

    page.get_by_role("link", name="Services").click()
    service = page.locator("#service-notes")
    expect(service).to_contain_text("healthy")
    expect(service).to_contain_text("approved by bob")
    screenshot(page, "line-services")
    page.goto(f"{dashboard}/intents/{deployed.id}")
    expect(page.get_by_role("heading", name="Deploys")).to_be_visible()
    expect(page.get_by_text("succeeded").first).to_be_visible()
    screenshot(page, "line-intent")
