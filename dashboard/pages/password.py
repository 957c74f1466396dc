"""Change your own password: the current one, then the new one twice. An administrator's
password (a new account, a reset) must be replaced here before anything else opens."""

import streamlit as st

from core import accounts, credentials
from dashboard.ui import SESSION_KEY, actor_or_stop, attempt

actor = actor_or_stop()
st.title("Change password")
if actor.must_change_password:
    st.info("An administrator set your password. Choose your own to continue.")
if flash := st.session_state.pop("password_flash", None):
    st.success(flash)

with st.form("password_form", clear_on_submit=True):
    current = st.text_input("Current password", type="password", key="password_current")
    new = st.text_input(
        "New password",
        type="password",
        key="password_new",
        help=f"At least {credentials.MIN_PASSWORD_LENGTH} characters.",
    )
    again = st.text_input("New password again", type="password", key="password_again")
    submitted = st.form_submit_button("Change password", type="primary")

if submitted:
    if new != again:
        st.error("The two new passwords differ; type them again.")
    elif attempt(
        lambda s, actor: accounts.change_own_password(
            s, actor=actor, session_id=st.session_state[SESSION_KEY], current=current, new=new
        )
    ):
        st.session_state["password_flash"] = "Password changed. Your other sessions were signed out."
        st.rerun()  # the router now opens the role's pages
