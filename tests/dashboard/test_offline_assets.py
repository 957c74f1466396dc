"""Served offline: in Chromium, with every request that would leave 127.0.0.1 blocked and
recorded, an administrator opens every page; nothing is fetched from another host (the
favicon, the icons and fonts are all local), and a claim imported with markdown and HTML
images in its number, narrative and message channel shows them as text and fetches nothing."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote, urlsplit

import pytest
from playwright.sync_api import Page, Request, Route, expect, sync_playwright

from core.auth import cli_actor
from core.data import importing
from core.data.generator import GeneratorConfig
from core.data.seeding import generate_import_frame
from db.session import session_scope
from tests.dashboard.test_e2e import TIMEOUT_MS, Shots, app_url, chromium, heading, settled, sign_in
from tests.dashboard.test_e2e_review import as_typed
from tests.dashboard.test_sessions_browser import wait_for_cookie

__all__ = ["app_url", "chromium"]  # fixtures shared with the end-to-end test

pytestmark = pytest.mark.browser
LOCAL_HOSTS = {"127.0.0.1", "localhost"}
PAGES = ("Triage queue", "Claim review", "Explanations", "Audit log", "Monitoring", "Models and retraining", "Users")


def is_local(url: str) -> bool:
    return url.startswith(("data:", "blob:", "about:")) or urlsplit(url).hostname in LOCAL_HOSTS


@contextmanager
def offline_page(chromium: str, app_url: str) -> Iterator[tuple[Page, list[str], list[str]]]:
    """A page at 1,400 px whose requests off 127.0.0.1 are blocked: (page, blocked, every URL requested)."""
    requested: list[str] = []
    blocked: list[str] = []

    def only_local(route: Route) -> None:
        if is_local(route.request.url):
            route.continue_()
        else:
            blocked.append(route.request.url)
            route.abort("internetdisconnected")

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=chromium,
            headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        try:
            context = browser.new_context(viewport={"width": 1400, "height": 1000}, base_url=app_url)
            context.set_default_timeout(TIMEOUT_MS)
            expect.set_options(timeout=TIMEOUT_MS)
            context.route("**/*", only_local)
            context.on("request", lambda request: requested.append(request.url))
            context.on("requestfailed", lambda request: _note_failure(request, blocked))
            yield context.new_page(), blocked, requested
        finally:
            browser.close()


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)  # the assets do not depend on the database
def test_no_page_fetches_anything_from_outside_localhost(chromium: str, app_url: str, tmp_path: Path) -> None:
    with offline_page(chromium, app_url) as (page, blocked, requested):
        shot = Shots(page, tmp_path / "screenshots")
        page.goto("/")
        sign_in(page, "root")
        for title in PAGES:
            page.get_by_role("link", name=title).click()
            expect(heading(page, title)).to_be_visible()
            settled(page)
            # The sidebar's page icons are drawn with the Material Symbols font: it must have loaded.
            expect(page.get_by_test_id("stSidebarNav").get_by_text("inbox", exact=True)).to_be_visible()
        shot("offline-users")
        favicon = page.locator("link[rel='shortcut icon']").get_attribute("href") or ""
        fonts = page.evaluate("() => [...document.fonts].filter(f => f.status === 'loaded').map(f => f.family)")
    assert favicon.startswith("data:image/svg+xml"), favicon[:120]
    assert any(re.search("Material Symbols", family) for family in fonts), fonts
    assert blocked == [], blocked
    assert requested and [url for url in requested if not is_local(url)] == []


HOSTILE_NUMBER = "![](https://e.vil/number.png)"
HOSTILE_CHANNEL = "![](//e.vil/c)"  # channels have at most 16 characters
HOSTILE_NARRATIVE = "Water damage. <img src=https://e.vil/tag.png> ![](https://e.vil/narrative.png)"


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)  # rendering does not depend on the database
def test_a_hostile_claim_is_shown_as_text_and_fetches_nothing(
    chromium: str, scored_database: str, app_url: str, tmp_path: Path
) -> None:
    frame = generate_import_frame(GeneratorConfig(claims=1, seed=99))
    frame.loc[0, ["claim_number", "narrative"]] = [HOSTILE_NUMBER, HOSTILE_NARRATIVE]
    frame.loc[0, "messages"] = json.dumps([{"sent_at": "2026-01-05T10:00:00", "channel": HOSTILE_CHANNEL, "text": "?"}])
    with session_scope() as session:
        importing.import_claims(session, actor=cli_actor(), frame=frame, source="hostile.csv")
    with offline_page(chromium, app_url) as (page, blocked, requested):
        shot = Shots(page, tmp_path / "screenshots")
        page.goto("/")
        sign_in(page, "root")
        wait_for_cookie(page, present=True)  # so that the link below opens in the signed-in session
        page.goto(f"/review?claim={quote(HOSTILE_NUMBER)}")  # the link a reviewer might be sent
        expect(page.get_by_role("heading", name=as_typed(HOSTILE_NUMBER))).to_be_visible()
        expect(page.get_by_text(as_typed(HOSTILE_NARRATIVE))).to_be_visible()
        expect(page.get_by_text(as_typed(HOSTILE_CHANNEL))).to_be_visible()
        shot("hostile-claim-review")
        page.get_by_role("link", name="Explanations").click()
        page.get_by_role("textbox", name="Claim number").fill(HOSTILE_NUMBER)
        page.keyboard.press("Enter")
        expect(page.get_by_role("heading", name=as_typed(HOSTILE_NUMBER))).to_be_visible()
        settled(page)
        shot("hostile-claim-explanations")
        images = page.evaluate("() => [...document.images].map(i => i.src).filter(s => s.includes('e.vil'))")
    assert images == []
    assert [url for url in requested if not is_local(url)] == [] and blocked == [], blocked


def _note_failure(request: Request, blocked: list[str]) -> None:
    if not is_local(request.url) and request.url not in blocked:
        blocked.append(request.url)
