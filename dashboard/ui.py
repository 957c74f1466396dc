"""What every page shares: the signed-in actor, one transaction per user action, and
user errors shown as messages (never tracebacks). No SQL and no business rules here."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import NoReturn, TypeVar

import streamlit as st
from sqlalchemy.orm import Session
from streamlit.errors import StreamlitInvalidLayoutContextError, StreamlitSecretNotFoundError

from core import accounts, review
from core.auth import Actor
from core.errors import ClaimLensError
from dashboard import session_cookie
from db.session import session_scope

T = TypeVar("T")
# The tab's session row; the cookie script the next run owes the browser (trade a sign-in
# code, sign out, or prune a dead cookie); the cookie token this tab has already tried.
SESSION_KEY, COOKIE_DUE_KEY, COOKIE_TRIED_KEY = "user_session_id", "session_cookie_due", "session_cookie_tried"
SIGNED_OUT_REASON_KEY = "signed_out_reason"
ENDED_MESSAGES = {
    "expired": "Your session expired; please sign in again.",
    "idle": "You were signed out after a while without activity; please sign in again.",
    "password changed": "Your password was changed (in another browser?); please sign in again with the new one.",
    "signed out": "You were signed out (in another tab or window); please sign in again.",
}
ENDED_BY_CHANGE = "Your session ended because your account was changed; please sign in again."


def sign_in(started: accounts.StartedSession) -> None:
    """Remember the new session in this tab; the next run hands the browser its cookie."""
    st.session_state[SESSION_KEY] = started.session_id
    st.session_state[COOKIE_DUE_KEY] = session_cookie.issue_script(started.sign_in_code)


def _forget(reason: str | None = None) -> None:
    """Drop everything this tab remembers (its session has ended)."""
    for key in list(st.session_state.keys()):
        del st.session_state[key]
    st.session_state[COOKIE_TRIED_KEY] = session_cookie.browser_token()  # spent: never resume it again here
    if reason:
        st.session_state[SIGNED_OUT_REASON_KEY] = reason


def sign_out() -> None:
    """End the session in the database (every tab and bookmark with its cookie is out) and
    forget it here."""
    session_id = st.session_state.get(SESSION_KEY)
    if session_id is not None:
        with session_scope() as session:
            accounts.end_session(session, session_id=session_id)
    _forget()
    st.session_state[COOKIE_DUE_KEY] = session_cookie.sign_out_script()


def sync_session_cookie() -> None:
    """Run once per page run, before the page: set or delete the browser's cookie when a
    sign-in or sign-out left that owed. Renders nothing visible."""
    if due := st.session_state.pop(COOKIE_DUE_KEY, None):
        # In the sidebar: an element in the main area would lend its slot (and any style the
        # script set on it) to the next page's first element, hiding that page's title.
        st.sidebar.html(due, unsafe_allow_javascript=True)


def sso_configured() -> bool:
    """Single sign-on is on when `.streamlit/secrets.toml` has an [auth] section."""
    try:
        return "auth" in st.secrets
    except StreamlitSecretNotFoundError:  # no secrets file at all
        return False


def current_actor(*, activity: bool = False) -> Actor | None:
    """The signed-in user, re-read from the database on every run: sign-out elsewhere,
    expiry, idleness, a disabled account, a changed role or a reset password takes effect
    on the next click. A tab that has not signed in resumes the session of the browser's
    cookie (a reload, a bookmark, a new tab). `activity`: this run is a click (the app's
    router says so; a fragment refreshing itself must not keep an idle session alive)."""
    session_id = st.session_state.get(SESSION_KEY)
    if session_id is None:
        return _resume_from_cookie()
    with session_scope() as session:
        resumed = accounts.resume(session, session_id=session_id)
        if activity and resumed.actor is not None:
            accounts.record_activity(session, session_id=session_id)
    if resumed.actor is None:
        _forget(ENDED_MESSAGES.get(resumed.ended or "", ENDED_BY_CHANGE))
    return resumed.actor


def _resume_from_cookie() -> Actor | None:
    token = session_cookie.browser_token()
    if token is None or st.session_state.get(COOKIE_TRIED_KEY) == token:
        return None
    st.session_state[COOKIE_TRIED_KEY] = token
    with session_scope() as session:
        resumed = accounts.resume_cookie(session, token=token)
    if resumed.actor is None:
        st.session_state[COOKIE_DUE_KEY] = session_cookie.prune_script()
        if resumed.ended not in ("signed out", "unknown"):  # after a sign-out, being signed out needs no news
            st.session_state[SIGNED_OUT_REASON_KEY] = ENDED_MESSAGES.get(resumed.ended or "", ENDED_BY_CHANGE)
        return None
    st.session_state[SESSION_KEY] = resumed.session_id
    return resumed.actor


def actor_or_stop() -> Actor:
    actor = current_actor()
    if actor is None:
        st.warning("Please sign in.")
        st.stop()
    return actor


def attempt(action: Callable[[Session, Actor], T]) -> T | None:
    """Run one user action in its own transaction, as the signed-in user re-read from the
    database in that same transaction: an action never runs as the actor a page (or a
    fragment refreshing itself) read earlier, so a session that expired or was ended, or a
    user disabled or given another role since, cannot act. An ended session signs the tab
    out. A user error becomes an on-page message and rolls back everything the action wrote."""
    try:
        with session_scope() as session:
            actor, ended = _signed_in_user(session)
            if actor is None:
                raise _SessionEnded(ended)
            return action(session, actor)
    except _SessionEnded as gone:
        if gone.ended is None:  # this tab never signed in (or has been signed out already)
            st.warning("Please sign in.")
            st.stop()
        _forget(ENDED_MESSAGES.get(gone.ended, ENDED_BY_CHANGE))
        st.rerun()  # the whole app, fragment or not: it shows the sign-in page with the reason
    except ClaimLensError as error:
        st.error(str(error))
        return None


class _SessionEnded(Exception):
    def __init__(self, ended: str | None) -> None:
        super().__init__(ended)
        self.ended = ended


def _signed_in_user(session: Session) -> tuple[Actor | None, str | None]:
    """This tab's user as the database has it now, and why there is none."""
    session_id = st.session_state.get(SESSION_KEY)
    if session_id is None:
        return None, None
    resumed = accounts.resume(session, session_id=session_id)
    return resumed.actor, resumed.ended


def rerun_fragment() -> NoReturn:
    """Rerun only the calling fragment, to show what an action inside it changed. When the
    fragment ran as part of a full-app run (Streamlit then refuses a fragment-scoped rerun:
    an interaction merged into an app rerun, or AppTest), rerun the app."""
    try:
        st.rerun(scope="fragment")
    except StreamlitInvalidLayoutContextError:
        st.rerun()


MARKDOWN_SPECIALS = "\\`*_{}[]()#+-.!|<>~$"
# Streamlit's markdown turns "http://…", "www.…" and e-mail addresses into links, and
# ":name:" into emoji or icons, after parsing, from the unescaped text: escaping cannot stop
# it. An invisible word joiner after ":" or "@" (before a letter, digit or "/") and between
# "www" and "." breaks every one of those patterns while the text reads the same.
WORD_JOINER = "\u2060"
_LINK_TRIGGERS = re.compile(r"(?<=[:@])(?=[\w/])|(?<=www)(?=\.)", re.IGNORECASE)


def plain(text: str) -> str:
    """Text from claimants or adjusters for st.markdown: shown as typed, never turned into
    links, e-mail links, emoji, icons, images or formatting; its line breaks kept."""
    inert = _LINK_TRIGGERS.sub(WORD_JOINER, text.replace("\r\n", "\n"))
    escaped = "".join(f"\\{ch}" if ch in MARKDOWN_SPECIALS else ch for ch in inert)
    return escaped.replace("\n", "  \n")  # a hard line break, not a new paragraph


def _keep_within(key: str, limit: int) -> None:
    """on_change of a bounded text area: text past the limit moves aside, never silently lost."""
    text = st.session_state.get(key) or ""
    st.session_state[f"{key}__overflow"] = text[limit:]
    st.session_state[f"{key}__cut_now"] = len(text) > limit
    if len(text) > limit:
        st.session_state[key] = text[:limit]


def bounded_text_area(label: str, *, key: str, limit: int) -> tuple[str, bool]:
    """A text area that holds up to `limit` characters and says so. Text pasted past the
    limit is cut to it, with a message and the cut-off part shown to copy elsewhere
    (Streamlit's own `max_chars` drops a too-long paste whole, without a word). Returns
    the text and whether it was cut in this very run (the user has not seen it yet)."""
    text = st.text_area(label, key=key, on_change=_keep_within, args=(key, limit))
    cut_now = bool(st.session_state.pop(f"{key}__cut_now", False))
    st.caption(f"{len(text):,} of {limit:,} characters")
    overflow = st.session_state.get(f"{key}__overflow", "")
    if overflow:
        st.warning(
            f"The text was {len(text) + len(overflow):,} characters, over the limit of {limit:,}: the first "
            f"{limit:,} are kept above, and the {len(overflow):,} that did not fit are below to copy elsewhere."
        )
        with st.expander(f"Text that did not fit ({len(overflow):,} characters)"):
            st.code(overflow, language=None, wrap_lines=True)
    return text, cut_now


def claim_or_stop(actor: Actor, claim_id: int) -> review.ClaimDetail:
    """The claim as stored. Its first view in this browser session is audited; the reruns
    that every widget click causes are not, so the audit log says who looked, once."""
    viewed: set[int] = st.session_state.setdefault("viewed_claims", set())
    detail = attempt(
        lambda s, actor: review.claim_detail(s, actor=actor, claim_id=claim_id, record_view=claim_id not in viewed)
    )
    if detail is None:
        st.stop()
    viewed.add(claim_id)
    return detail
