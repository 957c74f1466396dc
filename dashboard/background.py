"""The background-work banner: what the worker is still scoring and explaining, read from
SQL and refreshed every few seconds while work remains."""

from __future__ import annotations

import streamlit as st

from core import serving
from core.auth import Actor
from dashboard.ui import attempt, current_actor

REFRESH_SECONDS = 5


def _progress(actor: Actor | None) -> serving.ScoringProgress | None:
    if actor is None:
        return None
    return attempt(lambda s, actor: serving.scoring_progress(s, actor=actor))


def _show(progress: serving.ScoringProgress) -> None:
    lines = progress.lines()
    if not lines:
        st.caption("Every claim and message is scored, and every flagged claim explained.")
        return
    with st.container(border=True):
        st.markdown("**The worker is catching up in the background** (this refreshes by itself)")
        for line in lines:
            st.caption(line)
        if progress.claims.total:
            st.progress(min(progress.claims.scored / progress.claims.total, 1.0), text="claims scored")
        if progress.flagged:
            st.progress(min(progress.explained / progress.flagged, 1.0), text="flagged claims explained")


@st.fragment(run_every=REFRESH_SECONDS)
def _live() -> None:
    progress = _progress(current_actor())  # re-read on every refresh: an ended session shows nothing
    if progress is not None:
        _show(progress)


def scoring_banner(actor: Actor) -> None:
    """Show the worker's progress to `actor` (the page's, just read); while work remains,
    keep it fresh without rerunning the page."""
    progress = _progress(actor)
    if progress is None or progress.done:
        return
    _live()
