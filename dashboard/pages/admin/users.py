"""Administrators: add users, disable or enable them, change roles, reset passwords, unlock
accounts locked by failed sign-ins. A change that the table shows reruns the page and says
what it did above the table."""

import pandas as pd
import streamlit as st

from core import accounts
from core.auth import Role
from dashboard.ui import actor_or_stop, attempt, plain

NOTICE_KEY = "users_notice"


def done(message: str) -> None:
    """Show `message` after the rerun that brings the table up to date."""
    st.session_state[NOTICE_KEY] = message
    st.rerun()


actor = actor_or_stop()
st.title("Users")
if notice := st.session_state.pop(NOTICE_KEY, None):
    st.success(notice)
users = attempt(lambda s, actor: accounts.list_users(s, actor=actor))
if users is None:
    st.stop()
st.dataframe(
    pd.DataFrame(
        [
            {
                "username": u.username,
                "role": u.role,
                "e-mail": u.email or "",
                "active": u.is_active,
                "locked": u.locked,
                "last sign-in": u.last_login_at,
            }
            for u in users
        ]
    ),
    hide_index=True,
    key="users_table",
)

add, change = st.columns(2)
with add, st.form("add_user", clear_on_submit=True):
    st.markdown("**Add a user**")
    username = st.text_input("Username", key="add_username")
    role = st.selectbox("Role", list(Role), key="add_role")
    email = st.text_input("E-mail (for single sign-on, optional)", key="add_email")
    password = st.text_input("Initial password", type="password", key="add_password")
    if st.form_submit_button("Add user", key="add_submit") and attempt(
        lambda s, actor: accounts.create_user(
            s,
            actor=actor,
            username=username,
            role=Role(role),
            password=password,
            email=email or None,
            must_change_password=True,
        )
    ):
        st.success(f"Added {plain(username)}; they choose their own password at the first sign-in.")

with change:
    st.markdown("**Change a user**")
    by_name = {u.username: u for u in users}
    chosen = by_name[st.selectbox("User", list(by_name), key="change_user")]
    new_role = st.selectbox(
        "Role", list(Role), index=list(Role).index(Role(chosen.role)), key=f"change_role_{chosen.id}"
    )
    if st.button(
        "Change role", key=f"change_role_submit_{chosen.id}", disabled=Role(new_role) == Role(chosen.role)
    ) and attempt(lambda s, actor: accounts.change_role(s, actor=actor, user_id=chosen.id, role=Role(new_role))):
        done(f"{plain(chosen.username)} is now {Role(new_role).value} (was {chosen.role}); they must sign in again.")
    label = "Disable" if chosen.is_active else "Enable"
    if st.button(f"{label} {plain(chosen.username)}", key="change_active") and attempt(
        lambda s, actor: accounts.set_active(s, actor=actor, user_id=chosen.id, active=not chosen.is_active)
    ):
        done(
            f"{plain(chosen.username)} disabled and signed out everywhere."
            if chosen.is_active
            else f"{plain(chosen.username)} enabled; they can sign in again."
        )
    if st.button(
        f"Unlock {plain(chosen.username)}",
        key="change_unlock",
        disabled=not chosen.locked,
        help="Lift the lock that repeated failed sign-ins set; the password stays as it is.",
    ) and attempt(lambda s, actor: accounts.unlock(s, actor=actor, user_id=chosen.id)):
        done(f"{plain(chosen.username)} unlocked; they can sign in again.")
    password_key = f"change_password_{chosen.id}"
    new_password = st.text_input("New password", type="password", key=password_key)
    if st.button("Reset password", key="change_password_submit") and attempt(
        lambda s, actor: accounts.reset_password(s, actor=actor, user_id=chosen.id, password=new_password)
    ):
        del st.session_state[password_key]  # the field comes back empty
        done(f"Password of {plain(chosen.username)} reset; they must sign in again with it.")
