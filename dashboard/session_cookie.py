"""The session cookie: its name and flags, the two HTTP routes that set and clear it, and
the snippet a page runs once to call them.

The cookie is HttpOnly, so page scripts can never read it. A Streamlit script talks to the
browser only over its websocket and cannot answer with a `Set-Cookie` header, so the
cookie comes from routes mounted beside the app (`dashboard/server.py`, `st.App`):
after sign-in the page POSTs the session's one-time sign-in code to `/_claimlens/session`,
which answers with the cookie; sign-out POSTs to `/_claimlens/signout`, which ends the
session the cookie names and deletes the cookie; a cookie that no longer resumes a
session is deleted the same way (`prune`), leaving a live one alone. Scripts read the
cookie back from the websocket's handshake (`st.context.cookies`).

Flags: HttpOnly, SameSite=Strict, Path at the app's base URL, Max-Age until the session
expires, and Secure when the request came over https (directly or through a proxy that
says so in X-Forwarded-Proto). The routes answer only requests that carry the header
the snippet sends and, where the browser says, come from the same origin, so another
site cannot drive them.
"""

from __future__ import annotations

import json

import streamlit as st
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from core import accounts
from core.clock import now
from db.session import session_scope

COOKIE_NAME = "claimlens_session"
ISSUE_PATH, CLEAR_PATH = "_claimlens/session", "_claimlens/signout"
CODE_HEADER = "X-ClaimLens-Sign-In-Code"
MARKER_HEADER = "X-ClaimLens-Session"  # a non-simple header: a cross-origin fetch needs a preflight we never grant
PRUNE_HEADER = "X-ClaimLens-Prune"


def _base_path() -> str:
    base = (st.get_option("server.baseUrlPath") or "").strip("/")
    return f"/{base}/" if base else "/"


def browser_token() -> str | None:
    """The token this browser sent with the page's websocket handshake, if any (never
    anything but a string: AppTest's stand-in client answers with mock objects)."""
    token = st.context.cookies.get(COOKIE_NAME)
    return token if isinstance(token, str) and token else None


def _fetch(path: str, headers: dict[str, str]) -> str:
    """HTML for `st.html(..., unsafe_allow_javascript=True)` that POSTs to one route."""
    request = {"method": "POST", "credentials": "same-origin", "headers": {MARKER_HEADER: "1", **headers}}
    # Plain strings through json.dumps, with "<" escaped too, cannot end the <script> element.
    url, options = (json.dumps(value).replace("<", "\\u003c") for value in (_base_path() + path, request))
    return f"<script>fetch({url}, {options});</script>"


def issue_script(sign_in_code: str) -> str:
    """Trade the session's one-time sign-in code for the cookie."""
    return _fetch(ISSUE_PATH, {CODE_HEADER: sign_in_code})


def sign_out_script() -> str:
    """End the session the cookie names and delete the cookie."""
    return _fetch(CLEAR_PATH, {})


def prune_script() -> str:
    """Delete the cookie if its session is over; leave a live one alone."""
    return _fetch(CLEAR_PATH, {PRUNE_HEADER: "1"})


def _refused(request: Request) -> bool:
    site = request.headers.get("sec-fetch-site")
    return request.headers.get(MARKER_HEADER) != "1" or (site is not None and site != "same-origin")


def _secure(request: Request) -> bool:
    return request.url.scheme == "https" or request.headers.get("x-forwarded-proto", "").lower() == "https"


def _issue(request: Request) -> Response:
    code = request.headers.get(CODE_HEADER, "")
    if _refused(request) or not code:
        return Response(status_code=403)
    with session_scope() as session:
        issued = accounts.issue_cookie(session, sign_in_code=code)
    if issued is None:
        return Response(status_code=400)
    response = Response(status_code=204, headers={"Cache-Control": "no-store"})
    response.set_cookie(
        COOKIE_NAME,
        issued.token,
        max_age=max(1, int((issued.expires_at - now()).total_seconds())),
        path=_base_path(),
        secure=_secure(request),
        httponly=True,
        samesite="strict",
    )
    return response


def _clear(request: Request) -> Response:
    if _refused(request):
        return Response(status_code=403)
    if token := request.cookies.get(COOKIE_NAME):
        with session_scope() as session:
            if request.headers.get(PRUNE_HEADER) == "1":
                if accounts.resume_cookie(session, token=token).actor is not None:
                    return Response(status_code=204, headers={"Cache-Control": "no-store"})
            else:
                accounts.end_session(session, token=token)
    response = Response(status_code=204, headers={"Cache-Control": "no-store"})
    response.delete_cookie(COOKIE_NAME, path=_base_path(), secure=_secure(request), httponly=True, samesite="strict")
    return response


def routes() -> list[Route]:
    """The two routes, under the app's base URL (`server.baseUrlPath`). Their handlers are
    plain functions: Starlette runs them in its thread pool, off the event loop."""
    base = _base_path()
    return [
        Route(base + ISSUE_PATH, _issue, methods=["POST"]),
        Route(base + CLEAR_PATH, _clear, methods=["POST"]),
    ]
