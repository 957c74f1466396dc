"""Screenshots of the main pages for the README, taken from a running demo (`make run`).

    .venv/bin/python docs/screenshots.py [--url http://localhost:8501] [--out docs/screenshots]

Signs in with the demo credentials `make run` printed (data/demo-credentials.txt), takes
the next claim as the adjuster, and captures each role's main pages with Debian's Chromium.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from playwright.sync_api import Page, expect, sync_playwright

CHROMIUM = "/usr/bin/chromium"


def sign_in(page: Page, url: str, username: str, password: str) -> None:
    page.goto(url)
    page.get_by_role("textbox", name="Username").fill(username)
    page.get_by_role("textbox", name="Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("link", name=f"Sign out {username}")).to_be_visible()


def shoot(page: Page, path: Path) -> None:
    expect(page.get_by_test_id("stApp")).to_have_attribute("data-test-script-state", "notRunning")
    page.wait_for_timeout(1500)  # let plotly finish drawing (it animates after the script ends)
    height = page.get_by_test_id("stMain").evaluate("main => main.scrollHeight")
    page.set_viewport_size({"width": 1400, "height": max(1000, height)})
    page.wait_for_timeout(500)
    page.screenshot(path=str(path), full_page=True)
    page.set_viewport_size({"width": 1400, "height": 1000})


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", default="http://localhost:8501")
    parser.add_argument("--out", type=Path, default=Path("docs/screenshots"))
    parser.add_argument("--credentials", type=Path, default=Path("data/demo-credentials.txt"))
    args = parser.parse_args()
    passwords = dict(line.split() for line in args.credentials.read_text().splitlines())
    args.out.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        expect.set_options(timeout=60_000)
        for username, steps in (
            ("adjuster", [("queue", None), ("review", "Take next claim")]),
            ("compliance", [("explanations", "Explanations"), ("audit", "Audit log")]),
            ("manager", [("monitoring", None), ("models", "Models and retraining")]),
        ):
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            sign_in(page, args.url, username, passwords[username])
            for name, action in steps:
                if action == "Take next claim":
                    page.get_by_role("button", name=action).click()
                    expect(page.get_by_text("Top reasons", exact=True)).to_be_visible()
                elif action:
                    page.get_by_role("link", name=action).click()
                    expect(page.get_by_role("heading", name=action, exact=True)).to_be_visible()
                shoot(page, args.out / f"{name}.png")
            page.close()
        browser.close()


if __name__ == "__main__":
    main()
