"""The administrators' Users page: unlocking an account locked by failed sign-ins, and a
success message for every change (role, disable, enable, unlock, password reset), with
the table showing the change."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select
from streamlit.testing.v1 import AppTest

from core import accounts
from core.auth import cli_actor
from db.models import AuditLog
from db.session import session_scope
from tests.dashboard.signing import signed_in

APP = str(Path(__file__).parents[2] / "dashboard" / "app.py")


def users_page() -> AppTest:
    app = signed_in(AppTest.from_file(APP, default_timeout=60), "root").run()
    app.switch_page("pages/admin/users.py").run()
    assert not app.exception and app.title[0].value == "Users"
    return app


def row(app: AppTest, username: str) -> dict:  # type: ignore[type-arg]
    table = app.dataframe[0].value
    return table[table["username"] == username].iloc[0].to_dict()


def choose(app: AppTest, username: str) -> AppTest:
    return app.selectbox(key="change_user").set_value(username).run()


def successes(app: AppTest) -> list[str]:
    return [s.value for s in app.success]


def test_an_administrator_unlocks_a_locked_account(scored_database: str) -> None:
    for _ in range(5):
        with session_scope() as session:
            assert not accounts.authenticate(session, username="ada", password="wrong password!").ok
    app = choose(users_page(), "ada")
    assert row(app, "ada")["locked"]
    app.button(key="change_unlock").click().run()
    assert not app.exception
    assert successes(app) == ["ada unlocked; they can sign in again."]
    assert not row(app, "ada")["locked"]
    with session_scope() as session:
        assert session.scalars(select(AuditLog.actor).where(AuditLog.action == "user.unlocked")).all() == ["root"]
        assert accounts.authenticate(session, username="ada", password="demo-password-1").ok
    app.run()
    assert successes(app) == []  # said once


def test_unlock_is_offered_only_for_a_locked_account(scored_database: str) -> None:
    app = choose(users_page(), "ada")
    assert app.button(key="change_unlock").disabled


def test_role_changes_disable_and_enable_say_what_they_did(scored_database: str) -> None:
    app = choose(users_page(), "ada")
    user_id = next(u.id for u in _users() if u.username == "ada")
    assert app.button(key=f"change_role_submit_{user_id}").disabled  # the role she has already
    app.selectbox(key=f"change_role_{user_id}").set_value("compliance").run()
    app.button(key=f"change_role_submit_{user_id}").click().run()
    assert successes(app) == ["ada is now compliance (was adjuster); they must sign in again."]
    assert row(app, "ada")["role"] == "compliance"
    app.button(key="change_active").click().run()
    assert successes(app) == ["ada disabled and signed out everywhere."] and not row(app, "ada")["active"]
    app.button(key="change_active").click().run()
    assert successes(app) == ["ada enabled; they can sign in again."] and row(app, "ada")["active"]


def test_a_password_reset_says_so_and_forgets_the_typed_password(scored_database: str) -> None:
    app = choose(users_page(), "ada")
    user_id = next(u.id for u in _users() if u.username == "ada")
    app.text_input(key=f"change_password_{user_id}").input("a brand new password").run()
    app.button(key="change_password_submit").click().run()
    assert not app.exception
    assert successes(app) == ["Password of ada reset; they must sign in again with it."]
    assert app.text_input(key=f"change_password_{user_id}").value == ""
    with session_scope() as session:
        assert accounts.authenticate(session, username="ada", password="a brand new password").ok


def _users() -> list[accounts.UserRow]:
    with session_scope() as session:
        return accounts.list_users(session, actor=cli_actor())
