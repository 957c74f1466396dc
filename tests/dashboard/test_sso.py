"""Single sign-on starts: with an `[auth]` section configured, the sign-in page offers it,
and the button sends the browser to the identity provider (a local stand-in that serves
the OpenID metadata and records the authorisation request). Authlib must be installed for
this; without it Streamlit raises StreamlitMissingAuthlibError at the click."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import urllib.parse
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest
from playwright.sync_api import sync_playwright

from tests.dashboard.test_e2e import CHROMIUM, ROOT, _free_port, _wait_healthy

pytestmark = pytest.mark.browser


@pytest.fixture
def provider() -> Iterator[tuple[str, list[dict[str, list[str]]]]]:
    """An OpenID provider that answers its metadata and records authorisation requests."""
    asked: list[dict[str, list[str]]] = []

    class Provider(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            address = f"http://127.0.0.1:{self.server.server_port}"  # type: ignore[attr-defined]
            path, _, query = self.path.partition("?")
            if path == "/.well-known/openid-configuration":
                body = json.dumps({
                    "issuer": address, "authorization_endpoint": f"{address}/authorize",
                    "token_endpoint": f"{address}/token", "jwks_uri": f"{address}/jwks",
                    "response_types_supported": ["code"], "subject_types_supported": ["public"],
                    "id_token_signing_alg_values_supported": ["RS256"],
                }).encode()  # fmt: skip
            else:
                if path == "/authorize":  # not the favicon the browser also asks for
                    asked.append(urllib.parse.parse_qs(query))
                body = b"<html><body>identity provider</body></html>"
            self.send_response(200)
            self.send_header("Content-Type", "application/json" if path.startswith("/.well") else "text/html")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Provider)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}", asked
    server.shutdown()


def test_the_sign_in_page_offers_single_sign_on_and_it_reaches_the_provider(
    scored_database: str, tmp_path: Path, provider: tuple[str, list[dict[str, list[str]]]]
) -> None:
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} missing: apt-get install chromium")
        pytest.skip(f"{CHROMIUM} missing: apt-get install chromium")
    issuer, asked = provider
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    secrets = tmp_path / "secrets.toml"
    secrets.write_text(
        "[auth]\n"
        f'redirect_uri = "{url}/oauth2callback"\n'
        'cookie_secret = "a cookie secret for the test only"\n'
        'client_id = "claimlens-test"\n'
        'client_secret = "not a secret"\n'
        f'server_metadata_url = "{issuer}/.well-known/openid-configuration"\n'
    )
    log = tmp_path / "streamlit.log"
    command = [
        sys.executable, "-m", "streamlit", "run", "dashboard/server.py", "--server.port", str(port),
        "--server.address", "127.0.0.1", "--server.headless", "true", "--secrets.files", str(secrets),
    ]  # fmt: skip
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "STREAMLIT_BROWSER_GATHER_USAGE_STATS": "false"}
    with log.open("wb") as output:
        server = subprocess.Popen(command, cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT)
    try:
        _wait_healthy(server, url, log)
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=CHROMIUM, headless=True, args=["--no-sandbox", "--disable-gpu"]
            )
            try:
                page = browser.new_page()
                page.goto(url)
                page.get_by_role("button", name="Sign in with single sign-on").click(timeout=30_000)
                page.wait_for_url(f"{issuer}/authorize*", timeout=30_000)
            finally:
                browser.close()
    finally:
        server.terminate()
        server.wait(timeout=10)
    assert "MissingAuthlib" not in log.read_text()
    request = asked[0]  # the first authorisation request (the browser may retry it)
    assert request["client_id"] == ["claimlens-test"] and request["redirect_uri"] == [f"{url}/oauth2callback"]
