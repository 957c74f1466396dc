"""The adjuster's review in a real browser (Chromium, 1,400 px) over the scored SQLite
database: a note full of URLs, addresses and shortcodes shows as text with no link on the
review and compliance pages, and a second tab that decides after the first is told who
decided what and keeps its note as a comment."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import BrowserContext, Page, expect
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from tests.dashboard.test_e2e import TIMEOUT_MS, app_url, chromium, heading, page, settled, sign_in  # noqa: F401

pytestmark = pytest.mark.browser
NOTE = '=HYPERLINK("http://evil.example","x") or http://evil.example, www.evil.example, bob@evil.example :smile:'


@pytest.fixture
def another_tab(page: Page, app_url: str) -> Iterator[Page]:  # noqa: F811
    """A second browser context (its own sign-in) at the same size."""
    assert page.context.browser is not None
    context: BrowserContext = page.context.browser.new_context(
        viewport={"width": 1400, "height": 1000}, base_url=app_url
    )
    context.set_default_timeout(TIMEOUT_MS)
    try:
        tab = context.new_page()
        tab.goto("/")
        yield tab
    finally:
        context.close()


def take_next(tab: Page) -> str:
    tab.get_by_role("link", name="Triage queue").click()
    expect(heading(tab, "Triage queue")).to_be_visible()
    tab.get_by_role("button", name="Take next claim").click()
    subheader = tab.get_by_role("heading", name=re.compile(r"^CLM-[\d-]+ · \w+ · in review"))
    expect(subheader).to_be_visible()
    settled(tab)
    return subheader.inner_text().split(" · ")[0].strip()


def choose(tab: Page, decision: str, reason: str, note: str | None = None) -> None:
    tab.get_by_test_id("stRadio").get_by_text(decision, exact=True).click()
    box = tab.get_by_role("combobox", name=re.compile("Reason code"))
    expect(box).to_be_enabled()  # no decision is preselected: the reason opens once one is chosen
    settled(tab)
    for attempt in range(3):  # a rerun that lands while the list opens closes it again
        box.click()
        try:
            tab.get_by_role("option", name=reason, exact=True).click(timeout=5_000)
            break
        except PlaywrightTimeout:
            if attempt == 2:
                raise
            tab.keyboard.press("Escape")
    settled(tab)
    if note is not None:
        tab.get_by_role("textbox", name="Note (optional)").fill(note)


def as_typed(text: str) -> re.Pattern[str]:
    """The text as shown: plain() may put an invisible word joiner after ":" or "@" and in "www."
    ("/" escaped too: Playwright passes the pattern to the browser between slashes)."""
    return re.compile("".join(re.escape(ch).replace("/", "\\/") + "\u2060?" for ch in text))


def evil_links(tab: Page) -> list[str | None]:
    return [a.get_attribute("href") for a in tab.locator("a").all() if "evil" in (a.get_attribute("href") or "")]


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_notes_stay_text_and_a_stale_tab_keeps_its_note(page: Page, another_tab: Page) -> None:  # noqa: F811
    sign_in(page, "ada")
    first = take_next(page)
    choose(page, "deny", "Staged incident", NOTE)
    page.get_by_role("button", name="Record decision").click()
    expect(page.get_by_text("Recorded: deny (Staged incident).")).to_be_visible()
    page.get_by_text("Prediction history, decisions and comments").click()
    expect(page.get_by_text(as_typed(NOTE))).to_be_visible()
    assert evil_links(page) == []

    # A second tab opens the next claim, prepares a decision; the first tab decides first.
    sign_in(another_tab, "ada")
    second = take_next(page)
    another_tab.get_by_role("link", name="Claim review").click()
    another_tab.get_by_role("textbox", name="Claim number").fill(second)
    another_tab.keyboard.press("Enter")
    another_tab.get_by_role("button", name="Open").click()
    expect(another_tab.get_by_role("heading", name=re.compile(f"^{second} · "))).to_be_visible()
    choose(another_tab, "approve", "Covered loss", "Receipts match the invoice.")
    choose(page, "deny", "Inflated amount")
    page.get_by_role("button", name="Record decision").click()
    expect(page.get_by_text("Recorded: deny (Inflated amount).")).to_be_visible()
    another_tab.get_by_role("button", name="Record decision").click()
    expect(another_tab.get_by_text(re.compile(r"While you had this claim open, ada decided it: deny"))).to_be_visible()
    expect(another_tab.get_by_role("textbox", name="Add a comment")).to_have_value("Receipts match the invoice.")
    another_tab.get_by_role("button", name="Add comment").click()
    expect(another_tab.get_by_text("Comment added.")).to_be_visible()
    expect(another_tab.get_by_role("textbox", name="Add a comment")).to_have_value("")

    # Compliance reads the first decision's note as text too.
    page.get_by_role("link", name="Sign out ada").click()
    sign_in(page, "cora")
    page.get_by_role("link", name="Explanations").click()
    page.get_by_role("textbox", name="Claim number").fill(first)
    page.keyboard.press("Enter")
    expect(page.get_by_text(as_typed(NOTE))).to_be_visible()
    assert evil_links(page) == []
