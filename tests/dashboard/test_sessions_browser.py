"""A signed-in session in a real browser (Chromium, against `streamlit run dashboard/server.py`):
it survives a reload, a page URL opened directly and a new tab; its cookie is HttpOnly
and SameSite=Strict; sign-out ends it, a reload after sign-out stays signed out, and a
page URL opened signed out asks to sign in and then shows that page.

Screenshots of each step go to the test's tmp_path/screenshots (and $CLAIMLENS_SCREENSHOTS)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import BrowserContext, Page, expect, sync_playwright
from sqlalchemy import create_engine, func, select
from sqlalchemy.orm import Session

from dashboard.session_cookie import COOKIE_NAME
from db.models import UserSession
from tests.dashboard.test_e2e import (
    CHROMIUM,
    ROOT,
    TIMEOUT_MS,
    Shots,
    _free_port,
    _wait_healthy,
    heading,
    settled,
    sign_in,
)

pytestmark = pytest.mark.browser


@pytest.fixture
def chromium() -> str:
    """Debian's Chromium, checked before the app starts (as in test_e2e)."""
    if not Path(CHROMIUM).exists():
        message = f"{CHROMIUM} missing: apt-get install chromium"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return CHROMIUM


@pytest.fixture
def server_url(scored_database: str, tmp_path: Path, chromium: str) -> Iterator[str]:
    """The app as `make run` serves it: `dashboard/server.py`, which mounts the cookie routes."""
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    log = tmp_path / "streamlit.log"
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "STREAMLIT_BROWSER_GATHER_USAGE_STATS": "false"}
    command = [
        sys.executable, "-m", "streamlit", "run", "dashboard/server.py",
        "--server.port", str(port), "--server.address", "127.0.0.1", "--server.headless", "true",
    ]  # fmt: skip
    with log.open("wb") as output:
        server = subprocess.Popen(command, cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT)
    try:
        _wait_healthy(server, url, log)
        yield url
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


@pytest.fixture
def browser_context(chromium: str, server_url: str) -> Iterator[BrowserContext]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=chromium,
            headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        try:
            context = browser.new_context(viewport={"width": 1400, "height": 900}, base_url=server_url)
            context.set_default_timeout(TIMEOUT_MS)
            expect.set_options(timeout=TIMEOUT_MS)
            yield context
        finally:
            browser.close()


def session_cookies(context: BrowserContext) -> list[dict]:  # type: ignore[type-arg]
    return [c for c in context.cookies() if c["name"] == COOKIE_NAME]  # type: ignore[misc]


def wait_for_cookie(page: Page, present: bool) -> None:
    """The page's script sets (or deletes) the cookie right after the run that owed it."""
    for _ in range(100):
        if bool(session_cookies(page.context)) == present:
            return
        page.wait_for_timeout(100)
    pytest.fail(f"session cookie {'never set' if present else 'never deleted'}: {page.context.cookies()}")


def signed_in_as(page: Page, username: str) -> None:
    expect(page.get_by_role("link", name=f"Sign out {username}")).to_be_visible()
    expect(page.get_by_role("textbox", name="Username")).to_have_count(0)
    settled(page)


def signed_out(page: Page) -> None:
    expect(page.get_by_role("button", name="Sign in")).to_be_visible()
    expect(page.get_by_role("link", name="Sign out", exact=False)).to_have_count(0)
    settled(page)


def open_sessions(url: str) -> int:
    engine = create_engine(url)
    try:
        with Session(engine) as session:
            return session.scalar(select(func.count()).select_from(UserSession).where(UserSession.ended_at.is_(None)))
    finally:
        engine.dispose()


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)  # one backend keeps the browser run short
def test_a_session_survives_reloads_and_page_urls_until_sign_out(
    browser_context: BrowserContext, tmp_path: Path
) -> None:
    url = os.environ["DATABASE_URL"]
    page = browser_context.new_page()
    shot = Shots(page, tmp_path / "screenshots")
    page.goto("/")
    sign_in(page, "ada")
    wait_for_cookie(page, present=True)
    (cookie,) = session_cookies(browser_context)
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict" and cookie["path"] == "/"
    assert not cookie["secure"]  # plain http on localhost; https sets Secure (tests/dashboard/test_session_cookie.py)
    assert cookie["expires"] > 0  # kept until the session expires, not dropped with the tab
    assert COOKIE_NAME not in page.evaluate("document.cookie")  # page scripts cannot read it
    shot("session-1-signed-in")

    page.reload()
    signed_in_as(page, "ada")
    expect(heading(page, "Triage queue")).to_be_visible()
    shot("session-2-after-reload")

    page.goto("/review")  # a bookmarked page URL
    signed_in_as(page, "ada")
    expect(heading(page, "Claim review")).to_be_visible()
    shot("session-3-page-url")

    other = browser_context.new_page()  # a second tab of the same browser
    other.goto("/queue")
    signed_in_as(other, "ada")
    other.close()
    assert open_sessions(url) == 1

    page.get_by_role("link", name="Sign out ada").click()
    signed_out(page)
    wait_for_cookie(page, present=False)
    assert open_sessions(url) == 0
    shot("session-4-signed-out")

    page.reload()
    signed_out(page)
    page.goto("/review")  # the bookmark, signed out: the sign-in form, then the page it names
    signed_out(page)
    expect(page.get_by_text("Page not found")).to_have_count(0)
    shot("session-5-page-url-after-sign-out")
    sign_in(page, "ada")
    expect(heading(page, "Claim review")).to_be_visible()
    assert page.url.endswith("/review")
