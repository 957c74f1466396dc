"""Compliance: the audit log, filtered, and exported as CSV."""

import pandas as pd
import streamlit as st

from core import audit, audit_chain
from dashboard.ui import actor_or_stop, attempt

actor = actor_or_stop()
st.title("Audit log")
with st.container(border=True):
    st.markdown("**Tamper evidence**: every sealed row is chained to the one before by its SHA-256 hash.")
    if st.button("Verify the chain", key="audit_verify"):
        check = attempt(lambda s, actor: audit_chain.verify(s, actor=actor))
        if check is not None:
            said = check.summary()
            # Nothing sealed yet is no evidence either way: say so without the green of a pass.
            shown = st.error if not check.ok else st.success if check.verified_up_to is not None else st.info
            shown(said[:1].upper() + said[1:] + ".")
columns = st.columns(4)
who = columns[0].text_input("Actor", key="audit_actor")
known_actions = attempt(lambda s, actor: audit.actions(s, actor=actor)) or []
action = columns[1].selectbox("Action", ["", *known_actions], key="audit_action")
known_entities = attempt(lambda s, actor: audit.entity_types(s, actor=actor)) or []
entity_type = columns[2].selectbox("Entity type", ["", *known_entities], key="audit_entity")
entity_id = columns[3].text_input(
    "Entity", key="audit_entity_id", help="A claim number, a username, or the internal id of any entity."
)
period = st.date_input("Between", value=(), key="audit_dates")
filters = audit.AuditFilters(
    actor=who,
    action=action or "",
    entity_type=entity_type or "",
    entity_id=entity_id,
    since=period[0] if len(period) > 0 else None,
    until=period[1] if len(period) > 1 else None,
)
# A new search is logged once; the reruns that redraw it (sorting, scrolling) are not.
asked = st.session_state.get("audit_logged_filters") != filters
rows = attempt(
    lambda s, actor: audit.search(s, actor=actor, filters=filters, limit=audit.MAX_AUDIT_ROWS, recorded=asked)
)
if rows is not None:
    st.session_state["audit_logged_filters"] = filters
    st.caption(
        f"{len(rows):,} {'entry' if len(rows) == 1 else 'entries'} (newest first; at most {audit.MAX_AUDIT_ROWS:,})"
    )
    st.dataframe(
        pd.DataFrame(
            [
                {
                    "at": r.at,
                    "actor": r.actor,
                    "role": r.actor_role,
                    "action": r.action,
                    "entity type": r.entity_type,
                    "entity": r.entity or r.entity_id or "",
                    "note": r.note or "",
                    "details": r.summary,
                }
                for r in rows
            ],
            columns=["at", "actor", "role", "action", "entity type", "entity", "note", "details"],
        ),
        hide_index=True,
        column_config={
            "note": st.column_config.TextColumn(width="medium"),
            "details": st.column_config.TextColumn(width="large"),
        },
        key="audit_table",
    )
    shown = len(rows)
    st.download_button(
        "Export CSV",
        audit.to_csv(rows),
        file_name="claimlens-audit.csv",
        mime="text/csv",
        key="audit_export",
        on_click=lambda: attempt(lambda s, actor: audit.record_export(s, actor=actor, filters=filters, rows=shown)),
    )
