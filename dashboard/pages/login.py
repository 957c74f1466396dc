"""Sign in with a local account, or through the identity provider when one is configured."""

import streamlit as st

from core import accounts
from dashboard.ui import SIGNED_OUT_REASON_KEY, sign_in, sso_configured
from db.session import session_scope

st.title("ClaimLens")
st.caption("Claims review and model monitoring")
if reason := st.session_state.pop(SIGNED_OUT_REASON_KEY, None):
    st.info(reason)

with st.form("login", border=True):
    username = st.text_input("Username", key="login_username")
    password = st.text_input("Password", type="password", key="login_password")
    submitted = st.form_submit_button("Sign in", type="primary", key="login_submit")
if submitted:
    with session_scope() as session:  # failures are counted and audited, so this commits either way
        result = accounts.authenticate(
            session,
            username=username,
            password=password,
            source=st.context.ip_address,  # None: no client (tests)
        )
    if result.started is not None:
        sign_in(result.started)
        st.rerun()
    st.error(result.message)

if sso_configured():
    st.divider()
    if not st.user.get("is_logged_in"):  # absent outside a server session (AppTest): not signed in
        st.button("Sign in with single sign-on", on_click=st.login, key="login_sso")
    else:  # signed in at the provider: continuing is the user's choice, not automatic
        if st.button(f"Continue as {st.user.email}", type="primary", key="login_sso_continue"):
            with session_scope() as session:
                result = accounts.authenticate_email(session, email=str(st.user.email))
            if result.started is not None:
                sign_in(result.started)
                st.rerun()
            st.error(result.message)
        st.button("Sign out of single sign-on", on_click=st.logout, key="logout_sso")
