"""Every page for every role, through AppTest on a small scored database with tiny models:
the pages a role may use render without error from stored data; the others are absent."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select
from streamlit.testing.v1 import AppTest

from db.models import AuditLog, User
from db.session import session_scope
from tests.conftest import DEMO_PASSWORD, DEMO_USERS

APP = str(Path(__file__).parents[2] / "dashboard" / "app.py")
PAGES = {
    "adjuster": {"queue", "review"},
    "compliance": {"explanations", "audit", "review"},
    "manager": {"monitoring", "models", "queue", "review"},
    "admin": {"queue", "review", "explanations", "audit", "monitoring", "models", "users"},
}
ALL_PAGES = set().union(*PAGES.values())


def user_id(username: str) -> int:
    with session_scope() as session:
        found = session.scalar(select(User.id).where(User.username == username))
    assert found is not None
    return found


def app_as(username: str | None) -> AppTest:
    app = AppTest.from_file(APP, default_timeout=60)
    if username:
        app.session_state["user_id"] = user_id(username)
        app.session_state["signed_in_at"] = datetime.now(UTC)
    return app


def open_page(app: AppTest, page: str) -> AppTest:
    app.switch_page(f"pages/{_page_file(page)}")
    return app.run()


def _page_file(page: str) -> str:
    return {
        "queue": "adjuster/queue.py", "review": "adjuster/review.py", "explanations": "compliance/explanations.py",
        "audit": "compliance/audit_log.py", "monitoring": "manager/monitoring.py", "models": "manager/models.py",
        "users": "admin/users.py",
    }[page]  # fmt: skip


def count(model: type, *where) -> int:  # type: ignore[no-untyped-def]
    with session_scope() as session:
        return session.scalar(select(func.count()).select_from(model).where(*where)) or 0


def test_signed_out_visitors_see_only_the_sign_in_page(scored_database: str) -> None:
    app = app_as(None).run()
    assert not app.exception
    assert [b.label for b in app.button] == ["Sign in"] and app.text_input(key="login_username")


def test_a_wrong_password_is_refused_audited_and_a_right_one_signs_in(scored_database: str) -> None:
    app = app_as(None).run()
    app.text_input(key="login_username").input("ada")
    app.text_input(key="login_password").input("not the password")
    app.button(key="login_submit").click().run()
    assert "Wrong username or password." in [e.value for e in app.error]
    assert count(AuditLog, AuditLog.action == "login.failed") == 1
    app.text_input(key="login_password").input(DEMO_PASSWORD)
    app.button(key="login_submit").click().run()
    assert not app.exception
    assert app.session_state["user_id"] == user_id("ada")
    app.switch_page("app.py").run()  # AppTest stays on the login script after st.rerun(); route afresh
    assert open_page(app, "queue").title[0].value == "Triage queue"


@pytest.mark.parametrize("role", list(PAGES))
def test_each_role_sees_its_pages_render_and_not_the_others(scored_database: str, role: str) -> None:
    username = DEMO_USERS[role]
    app = app_as(username).run()
    assert not app.exception
    for page in PAGES[role]:
        open_page(app, page)
        assert not app.exception, (role, page, app.exception)
        assert not app.error, (role, page, [e.value for e in app.error])
    for page in ALL_PAGES - PAGES[role]:
        with pytest.raises(ValueError, match="Could not find a navigation page"):
            app.switch_page(f"pages/{_page_file(page)}")
