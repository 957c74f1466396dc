"""Compliance: a decision with the prediction and explanation exactly as stored when it
was made, the model version and its card; global explanations per segment and period."""

import pandas as pd
import streamlit as st

from core import claim_fields, explanations, registry, review, triage
from core.bands import FLAGGED
from core.schema import active_schema
from dashboard import charts
from dashboard.ui import actor_or_stop, attempt, claim_or_stop, plain


def _coverage(importance: explanations.GlobalImportance) -> str:
    """What the averages below are taken over: the flagged claims, not the whole book."""
    others = importance.claims - importance.explained_flagged
    text = (
        f"These averages cover **flagged claims** (bands {' and '.join(FLAGGED)}), not the whole book: "
        f"{importance.explained_flagged:,} of the {importance.flagged:,} flagged claims"
        f" among the {importance.scored:,} claims the champion scored in this selection"
    )
    if others:
        text += f", plus {others:,} other {'claim' if others == 1 else 'claims'} explained when someone opened them"
    text += ". Unflagged claims are explained only on request, so this shows what drives the flagged scores."
    if importance.flagged > importance.explained_flagged:
        waiting = importance.flagged - importance.explained_flagged
        text += f" {waiting:,} flagged {'claim is' if waiting == 1 else 'claims are'} not explained yet."
    return text


actor = actor_or_stop()
st.title("Explanations")
# Only the open tab runs (and draws): the global averages read every stored explanation
# and draw two charts, which the decisions a compliance officer opens on need neither.
decisions_tab, global_tab = st.tabs(["Decisions", "Global explanations"], on_change="rerun", key="explanations_tab")


def decisions() -> None:
    number = st.text_input("Claim number", key="explanations_claim_number")
    decided = attempt(lambda s, actor: review.decided_claims(s, actor=actor, limit=200)) or []
    claim_id = None
    if number:
        claim_id = attempt(lambda s, actor: review.find_claim(s, actor=actor, claim_number=number))
    elif decided:
        table = pd.DataFrame(
            [
                {
                    "Claim": d.claim_number,
                    "Decision": d.decision,
                    "Reason": d.reason_code,
                    "By": d.decided_by,
                    "At": d.decided_at,
                    "Probability": d.probability,
                    "Band": d.band,
                    "id": d.claim_id,
                }
                for d in decided
            ]
        )
        st.caption("Recent decisions; select one to see what the adjuster saw.")
        picked = st.dataframe(
            table,
            hide_index=True,
            on_select="rerun",
            selection_mode="single-row",
            column_order=[c for c in table.columns if c != "id"],
            key="explanations_decisions",
        )
        if picked.selection.rows:
            claim_id = int(table.iloc[picked.selection.rows[0]]["id"])
    else:
        st.info("No decisions yet.")
    if claim_id is not None:
        detail = claim_or_stop(actor, claim_id)
        st.subheader(plain(detail.claim_number))
        if not detail.decisions:
            st.info("This claim has no decision yet.")
        for decision in detail.decisions:
            st.markdown(f"#### {review.decided_as(decision.decision, decision.reason_code)}")
            st.markdown(
                f"By **{plain(decision.decided_by)}** at {decision.decided_at:%Y-%m-%d %H:%M:%S} "
                f"(claim version {decision.claim_version})" + (f" — “{plain(decision.note)}”" if decision.note else "")
            )
            stored = decision.prediction
            if stored is None:
                st.warning("No model prediction was on record when this decision was made.")
                continue
            st.markdown(
                f"Model **{stored.model_task} v{stored.model_version}**: probability "
                f"{stored.probability:.1%}, band {stored.band}, scored {stored.created_at:%Y-%m-%d %H:%M}"
            )
            if stored.explanation is None:
                st.caption("No explanation was stored for this prediction.")
            else:
                for reason in stored.explanation.reasons:
                    st.markdown(f"- {plain(reason)}")
                st.html(charts.highlighted_words(stored.explanation.words))
                st.html(charts.field_contributions(stored.explanation.fields))
                settings = ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in stored.explanation.parameters.items())
                st.caption(
                    plain(f"{stored.explanation.method} ({settings}), computed ")
                    + f"{stored.explanation.created_at:%Y-%m-%d %H:%M}"
                )
            with st.expander(f"Model card: {stored.model_task} v{stored.model_version}"):
                card = attempt(
                    lambda s, actor, v=stored.model_version_id: registry.model_card(s, actor=actor, version_id=v)
                )
                if card:
                    st.markdown(card)


def global_explanations() -> None:
    schema = active_schema()
    offered = [(name, value) for name in schema.segments for value in triage.segment_choices(name, schema)]
    left, right = st.columns(2)
    picked = left.selectbox(
        "Segment",
        [None, *offered],
        key="global_segment",
        format_func=lambda s: "all claims" if s is None else f"{claim_fields.label(s[0], schema)}: {s[1]}",
    )
    period = right.date_input("Reported between", value=(), key="global_dates")
    importance = attempt(
        lambda s, actor: explanations.global_importance(
            s,
            actor=actor,
            segment=picked,
            since=period[0] if len(period) > 0 else None,
            until=period[1] if len(period) > 1 else None,
        )
    )
    if importance is None or not importance.claims:
        st.info("No stored explanations in this selection.")
    else:
        st.info(_coverage(importance))
        left, right = st.columns(2)
        left.plotly_chart(charts.field_importance(importance.fields), key="global_fields")
        right.plotly_chart(charts.word_importance(importance.words), key="global_words")


if decisions_tab.open:
    with decisions_tab:
        decisions()
if global_tab.open:
    with global_tab:
        global_explanations()
