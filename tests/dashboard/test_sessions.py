"""Signed-in sessions through AppTest: a reload (a new tab with the browser's cookie)
resumes the session, sign-out ends it for every tab, and an administrator's change or
expiry ends it with a message. AppTest has no browser, so the cookie is what the route
would have set: the test trades the sign-in code the page hands the browser, as the
route does, and serves the token as the websocket's cookie."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select
from streamlit.testing.v1 import AppTest

from core import accounts
from core.auth import Role
from dashboard import session_cookie, ui
from db.models import AuditLog, User, UserSession
from db.session import session_scope
from tests.conftest import DEMO_PASSWORD
from tests.core.test_accounts import ADMIN

APP = str(Path(__file__).parents[2] / "dashboard" / "app.py")


@pytest.fixture
def cookie(monkeypatch: pytest.MonkeyPatch) -> Callable[[str | None], None]:
    """Set the cookie that the next tab's websocket handshake carries."""

    def serve(token: str | None) -> None:
        monkeypatch.setattr(session_cookie, "browser_token", lambda: token)

    serve(None)
    return serve


def new_tab() -> AppTest:
    return AppTest.from_file(APP, default_timeout=60)


def sign_in_on_the_page(username: str) -> AppTest:
    app = new_tab().run()
    app.text_input(key="login_username").input(username)
    app.text_input(key="login_password").input(DEMO_PASSWORD)
    app.button(key="login_submit").click().run()
    assert not app.exception and not app.error
    return app.switch_page("app.py").run()  # AppTest stays on the login script after st.rerun(); route afresh


def page_scripts(app: AppTest) -> list[str]:
    return [html.value for html in app.get("html")]


def trade_the_code(app: AppTest) -> str:
    """What the browser does with the page's script: POST the code, keep the cookie."""
    (script,) = page_scripts(app)
    code = re.search(rf'"{session_cookie.CODE_HEADER}": "([^"]+)"', script)
    assert code and "/_claimlens/session" in script
    with session_scope() as session:
        issued = accounts.issue_cookie(session, sign_in_code=code.group(1))
    assert issued is not None
    return issued.token


def sign_out_title(app: AppTest) -> str | None:
    return next((p["page_name"] for p in app._registered_pages.values() if p.get("url_pathname") == "signout"), None)


def sign_out(app: AppTest) -> AppTest:
    # The sign-out page is a function, not a file, so switch_page cannot name it; the
    # registry AppTest keeps of st.navigation's pages can.
    page_hash = next(h for h, p in app._registered_pages.items() if p.get("url_pathname") == "signout")
    app._page_hash = page_hash
    return app.run()


def signed_in_as(app: AppTest) -> str | None:
    title = sign_out_title(app)
    return title.removeprefix("Sign out ") if title else None


def open_sessions(username: str) -> int:
    with session_scope() as session:
        user_id = session.scalar(select(User.id).where(User.username == username))
        return session.scalar(
            select(func.count()).where(UserSession.user_id == user_id, UserSession.ended_at.is_(None))
        )


def test_a_reload_resumes_the_session_from_its_cookie(scored_database: str, cookie) -> None:  # type: ignore[no-untyped-def]
    app = sign_in_on_the_page("ada")
    assert signed_in_as(app) == "ada"
    token = trade_the_code(app)
    app.run()
    assert page_scripts(app) == []  # the cookie is handed over once, not on every click
    cookie(token)
    reloaded = new_tab().run()
    assert not reloaded.exception and signed_in_as(reloaded) == "ada"
    assert reloaded.title[0].value == "Triage queue"  # the adjuster's page, not the sign-in form
    assert not [t for t in reloaded.text_input if t.key == "login_username"]  # no sign-in form
    bookmarked = new_tab().switch_page("pages/adjuster/review.py").run()  # a page URL opened directly
    assert not bookmarked.exception and signed_in_as(bookmarked) == "ada"


def test_sign_out_ends_the_session_for_every_tab_and_deletes_the_cookie(scored_database: str, cookie) -> None:  # type: ignore[no-untyped-def]
    app = sign_in_on_the_page("ada")
    cookie(trade_the_code(app))
    other_tab = new_tab().run()
    assert signed_in_as(other_tab) == "ada"
    sign_out(app)
    assert not app.exception and signed_in_as(app) is None and app.button(key="login_submit")
    (script,) = page_scripts(app)
    assert "/_claimlens/signout" in script and session_cookie.PRUNE_HEADER not in script
    assert open_sessions("ada") == 0
    with session_scope() as session:
        assert session.scalar(select(func.count()).where(AuditLog.action == "logout")) == 1
    other_tab.run()  # its next click
    assert signed_in_as(other_tab) is None
    assert [i.value for i in other_tab.info] == [ui.ENDED_MESSAGES["signed out"]]
    reloaded = new_tab().run()  # the cookie, had the browser kept it, resumes nothing
    assert signed_in_as(reloaded) is None and not reloaded.info
    (script,) = page_scripts(reloaded)
    assert session_cookie.PRUNE_HEADER in script  # the dead cookie is deleted


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda s, user_id: accounts.set_active(s, actor=ADMIN, user_id=user_id, active=False), ui.ENDED_BY_CHANGE),
        (
            lambda s, user_id: accounts.reset_password(s, actor=ADMIN, user_id=user_id, password="a new long one"),
            ui.ENDED_BY_CHANGE,
        ),
    ],
    ids=["disabled", "password reset"],
)
def test_an_administrators_change_signs_the_user_out_on_the_next_click_and_on_reload(
    scored_database: str,
    cookie,  # type: ignore[no-untyped-def]
    change,
    message: str,
) -> None:
    app = sign_in_on_the_page("ada")
    cookie(trade_the_code(app))
    with session_scope() as session:
        change(session, session.scalar(select(User.id).where(User.username == "ada")))
    app.run()
    assert signed_in_as(app) is None and [i.value for i in app.info] == [message]
    reloaded = new_tab().run()
    assert signed_in_as(reloaded) is None and [i.value for i in reloaded.info] == [message]


def test_an_expired_cookie_says_so(scored_database: str, cookie, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    app = sign_in_on_the_page("ada")
    cookie(trade_the_code(app))
    later = datetime.now(UTC) + timedelta(hours=8, minutes=1)
    monkeypatch.setattr(accounts, "now", lambda: later)
    reloaded = new_tab().run()
    assert signed_in_as(reloaded) is None
    assert [i.value for i in reloaded.info] == [ui.ENDED_MESSAGES["expired"]]


def _acting_page() -> None:
    """A page run that acts without reading the actor first, as a fragment refreshing itself does."""
    import streamlit as st

    from dashboard import ui

    acted_as = ui.attempt(lambda session, actor: actor.username)
    st.markdown(f"acted as {acted_as}")


@pytest.mark.parametrize("ending", ["disabled", "expired", "demoted"])
def test_an_action_runs_as_the_user_the_database_has_now_never_a_page_s_earlier_actor(
    scored_database: str, monkeypatch: pytest.MonkeyPatch, ending: str
) -> None:
    with session_scope() as session:
        started = accounts.authenticate(session, username="max", password=DEMO_PASSWORD).started
        meg = session.scalar(select(User.id).where(User.username == "max"))
    assert started is not None
    tab = AppTest.from_function(_acting_page, default_timeout=60)
    tab.session_state[ui.SESSION_KEY] = started.session_id
    tab.run()
    assert [m.value for m in tab.markdown] == ["acted as max"]
    with session_scope() as session:
        if ending == "disabled":
            accounts.set_active(session, actor=ADMIN, user_id=meg, active=False)
        elif ending == "demoted":
            accounts.change_role(session, actor=ADMIN, user_id=meg, role=Role.ADJUSTER)
    if ending == "expired":
        later = datetime.now(UTC) + timedelta(hours=8, minutes=1)
        monkeypatch.setattr(accounts, "now", lambda: later)
    tab.run()
    assert not tab.exception and not [m for m in tab.markdown if m.value.startswith("acted as")]
    assert ui.SESSION_KEY not in tab.session_state  # the tab is signed out
    assert [w.value for w in tab.warning] == ["Please sign in."]
