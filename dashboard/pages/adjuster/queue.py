"""Triage queue: flagged claims waiting for review, highest priority first, and the SIU
referrals waiting for SIU's outcome."""

import pandas as pd
import streamlit as st
from sqlalchemy.orm import Session

from core import claim_fields, review, triage
from core.auth import Actor, Permission
from core.schema import active_schema
from dashboard.background import scoring_banner
from dashboard.ui import actor_or_stop, attempt
from db.models import CLAIM_STATUSES

actor = actor_or_stop()
st.title("Triage queue")
scoring_banner(actor)

if actor.may(Permission.REVIEW_CLAIMS) and st.button("Take next claim", type="primary", key="take_next"):
    # Wrapped in a tuple: attempt's None means an error (already shown), take_next's an empty queue.
    taken = attempt(lambda s, actor: (triage.take_next(s, actor=actor),))
    if taken is not None:
        (assignment,) = taken
        if assignment is None:
            st.info("Nothing left to take: every flagged claim is assigned or decided.")
        else:
            st.session_state["claim_id"] = assignment.claim_id
            st.session_state.setdefault("seen_versions", {})[assignment.claim_id] = assignment.version
            st.switch_page("pages/adjuster/review.py")

view = st.radio("View", list(triage.QUEUE_VIEWS), horizontal=True, key="queue_view")
preset = triage.QUEUE_VIEWS[view]
suffix = "" if view == next(iter(triage.QUEUE_VIEWS)) else f"_{view.lower().replace(' ', '_')}"  # each view's own
schema = active_schema()
with st.expander("Filters", expanded=False):
    offered = [(name, triage.segment_choices(name, schema)) for name in schema.segments]
    offered = [(name, choices) for name, choices in offered if choices]
    segment_columns = st.columns(max(len(offered), 1))
    segments = tuple(
        (name, tuple(column.multiselect(claim_fields.label(name, schema), choices, key=f"queue_segment_{name}")))
        for column, (name, choices) in zip(segment_columns, offered, strict=False)
    )
    middle, right = st.columns(2)
    bands = middle.multiselect("Risk band", triage.BANDS, default=list(preset.bands), key=f"queue_bands{suffix}")
    statuses = right.multiselect(
        "Status",
        CLAIM_STATUSES,
        default=list(preset.statuses),
        key=f"queue_statuses{suffix}",
        format_func=lambda s: review.STATUS_NAMES.get(s, s),
    )
    left, middle, right = st.columns(3)
    mine = left.checkbox("Assigned to me", key="queue_mine")
    dates = middle.date_input("Reported between", value=(), key="queue_dates")
    search = right.text_input(
        f"{claim_fields.text_label(schema).capitalize()} contains",
        key="queue_search",
        max_chars=triage.MAX_SEARCH_LENGTH,
        disabled=not schema.text,
    )
page_size = 25
st.session_state.setdefault("queue_page", 0)


def queue_page(session: Session, actor: Actor) -> triage.QueuePage:
    """This page of the queue under the chosen filters (invalid filters are a user error)."""
    filters = triage.QueueFilters(
        segments=segments,
        bands=tuple(bands),
        statuses=tuple(statuses),
        assigned_to_me=mine,
        reported_from=dates[0] if len(dates) > 0 else None,
        reported_to=dates[1] if len(dates) > 1 else None,
        search=search,
    )
    if st.session_state.get("queue_filters") != filters:  # new filters start at the first page
        st.session_state["queue_filters"], st.session_state["queue_page"] = filters, 0
    return triage.queue(session, actor=actor, filters=filters, page=st.session_state["queue_page"], page_size=page_size)


result = attempt(queue_page)
if result is None:
    st.stop()
page = st.session_state["queue_page"]

for note in result.notes:
    st.info(note)
if not result.rows:
    st.info("No claims match these filters.")
else:
    first_segment = claim_fields.label(schema.segments[0], schema) if schema.segments else ""
    amount_label = claim_fields.label(schema.roles.amount, schema) if schema.roles.amount else ""
    table = pd.DataFrame(
        [
            {
                "Claim": r.claim_number,
                "Band": r.band,
                "Probability": r.probability,
                "Top reason": r.top_reason or "explanation pending",
                **({amount_label: r.amount} if schema.roles.amount else {}),
                **({first_segment: r.segments.get(schema.segments[0])} if schema.segments else {}),
                "Age": r.age_days,
                "SLA": r.sla,
                "Status": review.STATUS_NAMES.get(r.status, r.status),
                "Assigned to": r.assigned_to or "",
                "id": r.claim_id,
            }
            for r in result.rows
        ]
    )
    count_slot = st.empty()  # filled last: the rows show before a count over many claims arrives
    # Fixed widths for the short columns, the rest (about 220 px at a 1,400 px window) to the top reason.
    # The table is ordered by priority, so the priority figure itself is left out for room.
    widths = {"Claim": 112, "Band": 58, "Probability": 90, amount_label: 84, first_segment: 80}
    widths |= {"Age": 58, "SLA": 68, "Status": 86, "Assigned to": 84}
    picked = st.dataframe(
        table,
        hide_index=True,
        key="queue_table",
        on_select="rerun",
        selection_mode="single-row",
        column_order=[c for c in table.columns if c not in ("id", "Top reason")] + ["Top reason"],
        column_config={
            **{name: st.column_config.Column(width=width) for name, width in widths.items()},
            "Age": st.column_config.NumberColumn(format="%d d", width=widths["Age"], help="Days since reported"),
            "Probability": st.column_config.ProgressColumn(
                format="%.2f", min_value=0, max_value=1, width=widths["Probability"]
            ),
            amount_label: st.column_config.NumberColumn(
                format=claim_fields.money_table_format(schema), width=widths[amount_label]
            ),
            "Top reason": st.column_config.TextColumn(width="large"),
        },
    )
    if picked.selection.rows:
        st.session_state["claim_id"] = int(table.iloc[picked.selection.rows[0]]["id"])
        st.switch_page("pages/adjuster/review.py")
champion = f"champion claim model v{result.champion_version or '—'}"
st.caption(f"Highest priority first · page {page + 1} · {champion} · select a row to open it")
previous, following = st.columns(2)
if previous.button("Previous page", disabled=page == 0, key="queue_previous"):
    st.session_state["queue_page"] = page - 1
    st.rerun()
if following.button("Next page", disabled=not result.has_next, key="queue_next"):
    st.session_state["queue_page"] = page + 1
    st.rerun()
if result.rows:
    filters = st.session_state["queue_filters"]
    counted = (
        triage.QueueCount(result.total, capped=False)
        if result.total is not None
        else attempt(lambda s, actor: triage.count_matching(s, actor=actor, filters=filters))
    )
    if counted is not None:
        pages = "" if counted.capped else f" · page {page + 1} of {-(-counted.total // page_size):,}"
        count_slot.caption(f"{counted.label} matching claim{'' if counted.total == 1 else 's'}{pages}")
