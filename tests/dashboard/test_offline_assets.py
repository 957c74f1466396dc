"""Served offline: in Chromium, with every request that would leave 127.0.0.1 blocked and
recorded, an administrator opens every page; nothing is fetched from another host (the
favicon, the icons and fonts are all local)."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Request, Route, expect, sync_playwright

from tests.dashboard.test_e2e import TIMEOUT_MS, Shots, app_url, chromium, heading, settled, sign_in

__all__ = ["app_url", "chromium"]  # fixtures shared with the end-to-end test

pytestmark = pytest.mark.browser
LOCAL_HOSTS = {"127.0.0.1", "localhost"}
PAGES = ("Triage queue", "Claim review", "Explanations", "Audit log", "Monitoring", "Models and retraining", "Users")


def is_local(url: str) -> bool:
    return url.startswith(("data:", "blob:", "about:")) or urlsplit(url).hostname in LOCAL_HOSTS


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)  # the assets do not depend on the database
def test_no_page_fetches_anything_from_outside_localhost(chromium: str, app_url: str, tmp_path: Path) -> None:
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
            page = context.new_page()
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
        finally:
            browser.close()
    assert favicon.startswith("data:image/svg+xml"), favicon[:120]
    assert any(re.search("Material Symbols", family) for family in fonts), fonts
    assert blocked == [], blocked
    assert requested and [url for url in requested if not is_local(url)] == []


def _note_failure(request: Request, blocked: list[str]) -> None:
    if not is_local(request.url) and request.url not in blocked:
        blocked.append(request.url)
