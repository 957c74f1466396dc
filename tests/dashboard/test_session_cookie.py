"""The session cookie's routes, called as the server calls them: the cookie they set is
HttpOnly, SameSite=Strict, scoped to the app and as long-lived as the session, Secure
over https; they refuse requests another site could make; sign-out ends the session the
cookie names; pruning deletes only a dead cookie. The page's scripts call these routes."""

from __future__ import annotations

import json
import re

import pytest
from starlette.requests import Request
from starlette.responses import Response

from core import accounts
from core.auth import Role
from dashboard import session_cookie
from db.session import session_scope
from tests.core.test_accounts import ADMIN, PASSWORD

ISSUE, CLEAR = (route.endpoint for route in session_cookie.routes())


def call(endpoint, headers: dict[str, str], *, scheme: str = "http", cookie: str | None = None) -> Response:  # type: ignore[no-untyped-def]
    raw = [(name.lower().encode(), value.encode()) for name, value in headers.items()]
    if cookie:
        raw.append((b"cookie", f"{session_cookie.COOKIE_NAME}={cookie}".encode()))
    scope = {
        "type": "http",
        "method": "POST",
        "scheme": scheme,
        "path": "/_claimlens/session",
        "query_string": b"",
        "headers": raw,
        "server": ("127.0.0.1", 8501),
    }
    return endpoint(Request(scope))


def browser_headers(script: str) -> dict[str, str]:
    """The headers the page's script sends, read from the script itself."""
    options = re.search(r"fetch\(\"[^\"]+\", (\{.*\})\);", script)
    assert options
    return {**json.loads(options.group(1))["headers"], "Sec-Fetch-Site": "same-origin"}


@pytest.fixture
def sign_in_code(configured_database: str) -> str:
    with session_scope() as session:
        accounts.create_user(session, actor=ADMIN, username="ada", role=Role.ADJUSTER, password=PASSWORD)
    with session_scope() as session:
        started = accounts.authenticate(session, username="ada", password=PASSWORD).started
    assert started is not None
    return started.sign_in_code


def issued_token(response: Response) -> str:
    found = re.match(rf"{session_cookie.COOKIE_NAME}=([^;]+);", response.headers["set-cookie"])
    assert found
    return found.group(1)


def test_the_sign_in_script_buys_an_httponly_strict_cookie_for_the_sessions_lifetime(sign_in_code: str) -> None:
    response = call(ISSUE, browser_headers(session_cookie.issue_script(sign_in_code)))
    assert response.status_code == 204
    flags = response.headers["set-cookie"].lower()
    assert "httponly" in flags and "samesite=strict" in flags and "path=/" in flags and "secure" not in flags
    max_age = int(re.search(r"max-age=(\d+)", flags).group(1))  # type: ignore[union-attr]
    assert 8 * 3600 - 60 < max_age <= 8 * 3600  # the default session_hours
    with session_scope() as session:
        assert accounts.resume_cookie(session, token=issued_token(response)).actor is not None


def test_over_https_the_cookie_is_secure(sign_in_code: str) -> None:
    headers = browser_headers(session_cookie.issue_script(sign_in_code))
    assert "secure" in call(ISSUE, headers, scheme="https").headers["set-cookie"].lower()


def test_behind_a_tls_proxy_the_cookie_is_secure(sign_in_code: str) -> None:
    headers = {**browser_headers(session_cookie.issue_script(sign_in_code)), "X-Forwarded-Proto": "https"}
    assert "secure" in call(ISSUE, headers).headers["set-cookie"].lower()


def test_the_code_buys_one_cookie(sign_in_code: str) -> None:
    headers = browser_headers(session_cookie.issue_script(sign_in_code))
    assert call(ISSUE, headers).status_code == 204
    again = call(ISSUE, headers)
    assert again.status_code == 400 and "set-cookie" not in again.headers


@pytest.mark.parametrize(
    "forge",
    [
        lambda h: {k: v for k, v in h.items() if k != session_cookie.MARKER_HEADER},  # a plain form post
        lambda h: {**h, "Sec-Fetch-Site": "cross-site"},
        lambda h: {**h, "Sec-Fetch-Site": "same-site"},
    ],
    ids=["no marker header", "cross-site", "same-site"],
)
def test_requests_another_site_could_make_are_refused(sign_in_code: str, forge) -> None:  # type: ignore[no-untyped-def]
    headers = browser_headers(session_cookie.issue_script(sign_in_code))
    refused = call(ISSUE, forge(headers))
    assert refused.status_code == 403 and "set-cookie" not in refused.headers
    assert call(ISSUE, headers).status_code == 204  # the refused request did not spend the code


def test_sign_out_ends_the_cookies_session_and_deletes_the_cookie(sign_in_code: str) -> None:
    token = issued_token(call(ISSUE, browser_headers(session_cookie.issue_script(sign_in_code))))
    response = call(CLEAR, browser_headers(session_cookie.sign_out_script()), cookie=token)
    assert response.status_code == 204
    deleted = response.headers["set-cookie"].lower()
    assert deleted.startswith(f'{session_cookie.COOKIE_NAME}=""') and "max-age=0" in deleted
    with session_scope() as session:
        assert accounts.resume_cookie(session, token=token).ended == "signed out"


def test_pruning_keeps_a_live_cookie_and_deletes_a_dead_one(sign_in_code: str) -> None:
    token = issued_token(call(ISSUE, browser_headers(session_cookie.issue_script(sign_in_code))))
    prune = browser_headers(session_cookie.prune_script())
    kept = call(CLEAR, prune, cookie=token)
    assert kept.status_code == 204 and "set-cookie" not in kept.headers
    with session_scope() as session:
        assert accounts.resume_cookie(session, token=token).actor is not None  # pruning never signs out
        accounts.end_session(session, token=token)
    assert "max-age=0" in call(CLEAR, prune, cookie=token).headers["set-cookie"].lower()


def test_the_scripts_cannot_be_broken_out_of() -> None:
    script = session_cookie.issue_script("</script><script>alert(1)</script>")
    assert script.count("<") == 2 and script.startswith("<script>") and script.endswith("</script>")
