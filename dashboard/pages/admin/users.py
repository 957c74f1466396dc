"""Administrators: add users, disable or enable them, change roles, reset passwords."""

import pandas as pd
import streamlit as st

from core import accounts
from core.auth import Role
from dashboard.ui import actor_or_stop, attempt

actor = actor_or_stop()
st.title("Users")
users = attempt(lambda s: accounts.list_users(s, actor=actor))
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
        lambda s: accounts.create_user(
            s, actor=actor, username=username, role=Role(role), password=password, email=email or None
        )
    ):
        st.success(f"Added {username}.")

with change:
    st.markdown("**Change a user**")
    by_name = {u.username: u for u in users}
    chosen = by_name[st.selectbox("User", list(by_name), key="change_user")]
    new_role = st.selectbox(
        "Role", list(Role), index=list(Role).index(Role(chosen.role)), key=f"change_role_{chosen.id}"
    )
    if st.button("Change role", key=f"change_role_submit_{chosen.id}") and attempt(
        lambda s: accounts.change_role(s, actor=actor, user_id=chosen.id, role=Role(new_role))
    ):
        st.rerun()
    label = "Disable" if chosen.is_active else "Enable"
    if st.button(f"{label} {chosen.username}", key="change_active") and attempt(
        lambda s: accounts.set_active(s, actor=actor, user_id=chosen.id, active=not chosen.is_active)
    ):
        st.rerun()
    new_password = st.text_input("New password", type="password", key=f"change_password_{chosen.id}")
    if st.button("Reset password", key="change_password_submit") and attempt(
        lambda s: accounts.reset_password(s, actor=actor, user_id=chosen.id, password=new_password)
    ):
        st.success(f"Password of {chosen.username} reset.")
