"""End to end in a real browser: the Streamlit app served on localhost over a scored SQLite
database, driven by Playwright with Debian's Chromium. An adjuster takes, reads and denies a
claim; a manager queues a training run; the database shows both.

Screenshots of each main step go to the test's tmp_path/screenshots and, when
CLAIMLENS_SCREENSHOTS names a folder, there too (the README's pictures)."""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect, sync_playwright
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from db.models import Claim, Review, TrainingRun
from tests.conftest import DEMO_PASSWORD

ROOT = Path(__file__).parents[2]
CHROMIUM = "/usr/bin/chromium"
TIMEOUT_MS = 30_000
SERVER_START_S = 60

pytestmark = pytest.mark.browser


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _wait_healthy(server: subprocess.Popen, url: str, log: Path) -> None:  # type: ignore[type-arg]
    deadline = time.monotonic() + SERVER_START_S
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.fail(f"streamlit exited with {server.returncode}:\n{log.read_text()[-4000:]}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.25)  # polling the server's port, not the page
    pytest.fail(f"streamlit not healthy after {SERVER_START_S}s:\n{log.read_text()[-4000:]}")


@pytest.fixture
def app_url(scored_database: str, tmp_path: Path) -> Iterator[str]:
    """`streamlit run dashboard/server.py` (as `make run` serves it) on a free port, against the scored database."""
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
def chromium() -> str:
    """Debian's Chromium (`playwright install` cannot download browsers here); checked before the app starts."""
    if not Path(CHROMIUM).exists():
        message = f"{CHROMIUM} missing: apt-get install chromium"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return CHROMIUM


@pytest.fixture
def page(chromium: str, app_url: str) -> Iterator[Page]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=chromium,
            headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        try:
            context = browser.new_context(viewport={"width": 1400, "height": 1000}, base_url=app_url)
            context.set_default_timeout(TIMEOUT_MS)
            expect.set_options(timeout=TIMEOUT_MS)  # Streamlit renders each rerun asynchronously
            page = context.new_page()
            page.goto("/")
            yield page
        finally:
            browser.close()


class Shots:
    """Full-page screenshots into tmp_path/screenshots and, if set, $CLAIMLENS_SCREENSHOTS."""

    def __init__(self, page: Page, folder: Path) -> None:
        self.page, self.folder = page, folder
        folder.mkdir(parents=True, exist_ok=True)
        extra = os.environ.get("CLAIMLENS_SCREENSHOTS")
        self.extra = Path(extra) if extra else None
        if self.extra:
            self.extra.mkdir(parents=True, exist_ok=True)

    def __call__(self, name: str) -> None:
        settled(self.page)
        # Streamlit scrolls inside its main block, not the document: grow the viewport to the
        # content's height so that the full-page screenshot holds the whole page.
        page, size = self.page, self.page.viewport_size
        assert size is not None
        height = page.get_by_test_id("stMain").evaluate("main => main.scrollHeight")
        page.set_viewport_size({"width": size["width"], "height": max(size["height"], height)})
        page.evaluate("() => new Promise(done => requestAnimationFrame(() => requestAnimationFrame(done)))")
        path = self.folder / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        page.set_viewport_size(size)
        if self.extra:
            shutil.copy(path, self.extra / path.name)


def sign_in(page: Page, username: str) -> None:
    expect(page.get_by_role("button", name="Sign in")).to_be_visible()
    page.get_by_role("textbox", name="Username").fill(username)
    page.get_by_role("textbox", name="Password").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("link", name=f"Sign out {username}")).to_be_visible()


def settled(page: Page) -> None:
    """Wait until the script run has finished (call it once the step's own content is visible)."""
    expect(page.get_by_test_id("stApp")).to_have_attribute("data-test-script-state", "notRunning")


def heading(page: Page, text: str):  # type: ignore[no-untyped-def]
    return page.get_by_role("heading", name=text, exact=True)


def queue_caption(page: Page):  # type: ignore[no-untyped-def]
    return page.get_by_text(re.compile(r"^Highest priority first · page 1 · champion claim model v\d+"))


def claim_column(page: Page) -> list[str]:
    """The queue's claim numbers. The grid draws on a canvas; the cells it renders as the
    canvas's fallback table are in the DOM (not visible, not in the accessibility tree)."""
    expect(page.get_by_test_id("stDataFrame")).to_be_visible()
    cells = page.get_by_test_id("stDataFrame").locator('td[role="gridcell"][aria-colindex="1"]')
    expect(cells.first).to_have_text(re.compile(r"^CLM-[\d-]+$"))
    return cells.all_text_contents()


@contextmanager
def database(url: str) -> Iterator[Session]:
    engine = create_engine(url)
    try:
        with Session(engine) as session:
            yield session
    finally:
        engine.dispose()


def open_claim_numbers(url: str) -> set[str]:
    with database(url) as session:
        return set(session.scalars(select(Claim.claim_number).where(Claim.status.in_(("new", "in_review")))))


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)  # one backend keeps the browser run short
def test_adjuster_denies_a_claim_and_manager_queues_retraining(page: Page, tmp_path: Path) -> None:
    url = os.environ["DATABASE_URL"]
    shot = Shots(page, tmp_path / "screenshots")

    # The adjuster lands on the triage queue.
    sign_in(page, "ada")
    expect(heading(page, "Triage queue")).to_be_visible()
    expect(queue_caption(page)).to_be_visible()
    claims_before = claim_column(page)
    shot("queue")

    # Take the next claim: the review page opens on it, with its reasons.
    page.get_by_role("button", name="Take next claim").click()
    expect(heading(page, "Claim review")).to_be_visible()
    subheader = page.get_by_role("heading", name=re.compile(r"^CLM-[\d-]+ · \w+ · in review"))
    expect(subheader).to_be_visible()
    claim_number = subheader.inner_text().split(" · ")[0].strip()
    assert claim_number in open_claim_numbers(url)
    assert claim_number == claims_before[0], "take next claim should take the top of the queue"
    expect(page.get_by_text("Top reasons", exact=True)).to_be_visible()
    reasons = page.get_by_test_id("stMarkdownContainer").locator("li")
    expect(reasons.first).to_be_visible()
    assert reasons.first.inner_text().strip()
    bars = page.get_by_role("list", name="Contribution of each field").get_by_role("listitem")
    expect(bars.first).to_be_visible()  # the field contributions, drawn as HTML bars with their values
    assert re.search(r"[+-]\d\.\d{3}$", bars.first.inner_text().strip())
    shot("review")

    # Deny it with a reason code.
    page.get_by_test_id("stRadio").get_by_text("deny", exact=True).click()
    settled(page)  # the reason codes of the chosen decision appear after the rerun
    page.get_by_role("combobox", name=re.compile("Reason code")).click()
    page.get_by_role("option", name="Staged incident", exact=True).click()
    page.get_by_role("button", name="Record decision").click()
    expect(page.get_by_text("Recorded: deny (Staged incident).")).to_be_visible()

    # Back on the queue, the decided claim is gone.
    page.get_by_role("link", name="Triage queue").click()
    expect(heading(page, "Triage queue")).to_be_visible()
    expect(queue_caption(page)).to_be_visible()
    assert claim_number not in open_claim_numbers(url)
    claims_after = claim_column(page)
    assert claim_number not in claims_after
    assert claims_after[0] == claims_before[1], "the next claim should move to the top"

    # The manager queues a training run.
    page.get_by_role("link", name="Sign out ada").click()
    sign_in(page, "max")
    expect(heading(page, "Monitoring")).to_be_visible()
    expect(page.get_by_test_id("stMetric").filter(has_text="Decisions")).to_have_text(re.compile(r"Decisions\s*1$"))
    expect(page.get_by_test_id("stPlotlyChart").first).to_be_visible()
    shot("monitoring")
    page.get_by_role("link", name="Models and retraining").click()
    expect(heading(page, "Models and retraining")).to_be_visible()
    page.get_by_role("button", name="Queue training run").click()
    queued = page.get_by_text(re.compile(r"^Queued training run \d+"))
    expect(queued).to_be_visible()
    run_id = int(re.search(r"\d+", queued.inner_text()).group())  # type: ignore[union-attr]
    runs_table = page.get_by_test_id("stDataFrame").last  # drawn by a fragment that refreshes every 3 s
    expect(runs_table.locator('td[role="gridcell"][aria-colindex="1"]').first).to_have_text(str(run_id))
    shot("models")

    with database(url) as session:
        claim = session.scalars(select(Claim).where(Claim.claim_number == claim_number)).one()
        reviews = session.scalars(select(Review).where(Review.claim_id == claim.id)).all()
        assert [(r.decision, r.reason_code) for r in reviews] == [("deny", "staged_incident")]
        assert claim.status == "decided"
        run = session.get(TrainingRun, run_id)
        assert run is not None and run.status == "queued"
