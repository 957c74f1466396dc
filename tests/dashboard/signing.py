"""Signing a browser tab in for AppTest, the way the sign-in page does: the password is
checked, a session row starts, and the tab remembers the row (no cookie: AppTest has no
browser)."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest

from core import accounts
from dashboard import ui
from db.session import session_scope
from tests.conftest import DEMO_PASSWORD


def signed_in(app: AppTest, username: str, password: str = DEMO_PASSWORD) -> AppTest:
    with session_scope() as session:
        result = accounts.authenticate(session, username=username, password=password)
    assert result.started is not None, result.message
    app.session_state[ui.SESSION_KEY] = result.started.session_id
    return app
