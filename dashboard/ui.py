"""What every page shares: the signed-in actor, one transaction per user action, and
user errors shown as messages (never tracebacks). No SQL and no business rules here."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import NoReturn, TypeVar

import streamlit as st
from sqlalchemy.orm import Session
from streamlit.errors import StreamlitInvalidLayoutContextError, StreamlitSecretNotFoundError

from core import accounts, review
from core.auth import Actor
from core.errors import ClaimLensError
from db.session import session_scope

T = TypeVar("T")
USER_KEY, SIGNED_IN_KEY = "user_id", "signed_in_at"


def sign_in(actor: Actor) -> None:
    st.session_state[USER_KEY] = actor.user_id
    st.session_state[SIGNED_IN_KEY] = datetime.now(UTC)


def sign_out() -> None:
    for key in list(st.session_state.keys()):
        del st.session_state[key]


def sso_configured() -> bool:
    """Single sign-on is on when `.streamlit/secrets.toml` has an [auth] section."""
    try:
        return "auth" in st.secrets
    except StreamlitSecretNotFoundError:  # no secrets file at all
        return False


def current_actor() -> Actor | None:
    """The signed-in user, re-read from the database on every run: a disabled account, a
    changed role or an expired session takes effect on the next click."""
    user_id = st.session_state.get(USER_KEY)
    if user_id is None:
        return None
    with session_scope() as session:
        actor = accounts.resume(
            session, user_id=user_id, signed_in_at=st.session_state.get(SIGNED_IN_KEY, datetime.min)
        )
    if actor is None:
        sign_out()
        st.session_state["signed_out_reason"] = "Your session ended (expired or account changed); please sign in again."
    return actor


def actor_or_stop() -> Actor:
    actor = current_actor()
    if actor is None:
        st.warning("Please sign in.")
        st.stop()
    return actor


def attempt(action: Callable[[Session], T]) -> T | None:
    """Run one user action in its own transaction; a user error becomes an on-page message
    and rolls back everything the action wrote."""
    try:
        with session_scope() as session:
            return action(session)
    except ClaimLensError as error:
        st.error(str(error))
        return None


def rerun_fragment() -> NoReturn:
    """Rerun only the calling fragment, to show what an action inside it changed. When the
    fragment ran as part of a full-app run (Streamlit then refuses a fragment-scoped rerun:
    an interaction merged into an app rerun, or AppTest), rerun the app."""
    try:
        st.rerun(scope="fragment")
    except StreamlitInvalidLayoutContextError:
        st.rerun()


MARKDOWN_SPECIALS = "\\`*_{}[]()#+-.!|<>~$"


def plain(text: str) -> str:
    """Text from claimants or adjusters, escaped for st.markdown: shown as typed, never
    turned into links, images or formatting."""
    return "".join(f"\\{ch}" if ch in MARKDOWN_SPECIALS else ch for ch in text)


def claim_or_stop(actor: Actor, claim_id: int) -> review.ClaimDetail:
    """The claim as stored. Its first view in this browser session is audited; the reruns
    that every widget click causes are not, so the audit log says who looked, once."""
    viewed: set[int] = st.session_state.setdefault("viewed_claims", set())
    detail = attempt(
        lambda s: review.claim_detail(s, actor=actor, claim_id=claim_id, record_view=claim_id not in viewed)
    )
    if detail is None:
        st.stop()
    viewed.add(claim_id)
    return detail
