"""Claim review: the claim, its stored prediction and explanation, messages, history,
and (for adjusters) the decision form."""

import pandas as pd
import streamlit as st

from core import review, scoring
from core.auth import Permission
from dashboard import charts
from dashboard.ui import actor_or_stop, attempt, claim_or_stop, plain

actor = actor_or_stop()
st.title("Claim review")

number = st.text_input("Claim number", key="review_claim_number", placeholder="e.g. CLM-0000123")
if number and st.button("Open", key="review_open"):
    claim_id = attempt(lambda s: review.find_claim(s, actor=actor, claim_number=number))
    if claim_id is not None:
        st.session_state["claim_id"] = claim_id
claim_id = st.session_state.get("claim_id")
if claim_id is None:
    st.info("Open a claim from the triage queue, or type its number.")
    st.stop()

detail = claim_or_stop(actor, claim_id)
if flash := st.session_state.pop("review_flash", None):
    st.success(flash)
seen = st.session_state.setdefault("seen_versions", {})
expected_version = seen.setdefault(claim_id, detail.version)

fields = detail.fields
st.subheader(f"{fields['claim_number']} · {fields['line_of_business']} · {detail.status.replace('_', ' ')}")
prediction = detail.prediction
top = st.columns(4)
top[0].metric("Fraud probability", f"{prediction.probability:.1%}" if prediction else "not scored")
top[1].metric("Risk band", prediction.band if prediction else "—")
top[2].metric(
    "Claimed",
    f"${fields['claimed_amount']:,.0f}",
    f"{fields['claimed_amount'] / max(fields['insured_value'], 1):.0%} of insured",
    delta_color="off",
)
top[3].metric("Assigned to", detail.assigned_to or "nobody")

explanation = prediction.explanation if prediction else None
left, right = st.columns([3, 2])
with left:
    st.markdown(
        "**Narrative**" + (" (shaded by contribution: red raises the risk, blue lowers it)" if explanation else "")
    )
    if explanation and explanation.words:
        st.html(charts.highlighted_words(explanation.words))
    else:
        st.text(detail.narrative or "(no narrative)")
    if explanation:
        st.markdown("**Top reasons**")
        for reason in explanation.reasons:
            st.markdown(f"- {plain(reason)}")
        st.plotly_chart(charts.field_contributions(explanation.fields), key="review_fields_chart")
        st.caption(
            f"SHAP ({explanation.method}, {explanation.parameters.get('max_evals')} evaluations): base "
            f"{explanation.base_value:.3f} + contributions = {explanation.output_value:.3f}"
        )
    elif (
        prediction
        and actor.may(Permission.EXPLAIN)
        and st.button("Explain this claim now", key="review_explain")
        and attempt(lambda s: scoring.explain_claim(s, actor=actor, claim_id=claim_id)) is not None
    ):
        st.rerun()
with right:
    st.markdown("**Claim fields**")
    st.dataframe(
        pd.DataFrame({"field": list(fields), "value": [str(v) for v in fields.values()]}),
        hide_index=True,
        key="review_fields_table",
    )

st.markdown("**Claimant messages**")
if detail.messages:
    st.dataframe(
        pd.DataFrame(
            [
                {
                    "sent": m.sent_at,
                    "from": m.direction,
                    "channel": m.channel,
                    "text": m.text,
                    "sentiment": m.sentiment or "not scored",
                }
                for m in detail.messages
            ]
        ),
        hide_index=True,
        key="review_messages",
    )
else:
    st.caption("No messages.")

with st.expander("Prediction history and decisions"):
    st.dataframe(
        pd.DataFrame(
            [
                {
                    "model": f"{p.model_task} v{p.model_version}",
                    "probability": p.probability,
                    "band": p.band,
                    "scored": p.created_at,
                    "explained": p.explanation is not None,
                }
                for p in detail.history
            ]
        ),
        hide_index=True,
        key="review_history",
    )
    for d in detail.decisions:
        st.markdown(
            f"- **{d.decision}** ({d.reason_code}) by {d.decided_by} at {d.decided_at:%Y-%m-%d %H:%M}"
            + (f": {plain(d.note)}" if d.note else "")
        )

if actor.may(Permission.REVIEW_CLAIMS) and detail.status != "decided":
    st.divider()
    st.markdown("**Decision**")
    if detail.version != expected_version:
        st.warning("This claim changed since you opened it. Reload to see the latest state before deciding.")
        if st.button("Reload", key="review_reload"):
            seen[claim_id] = detail.version
            st.rerun()
    decision = st.radio(
        "Decision",
        list(review.REASON_CODES),
        horizontal=True,
        key=f"review_decision_{claim_id}",  # per claim: nothing carries over to the next one
        format_func=lambda d: d.replace("_", " "),
    )
    reason_code = st.selectbox(
        "Reason code",
        review.REASON_CODES[decision],
        index=None,
        key=f"review_reason_{claim_id}",
        placeholder="Choose a reason (required)",
    )
    note = st.text_area("Note (optional)", key=f"review_note_{claim_id}", max_chars=review.MAX_NOTE_LENGTH)
    if st.button("Record decision", type="primary", key="review_submit"):
        if reason_code is None:
            st.error("Choose a reason code.")
        else:
            recorded = attempt(
                lambda s: review.decide(
                    s,
                    actor=actor,
                    claim_id=claim_id,
                    expected_version=expected_version,
                    decision=decision,
                    reason_code=reason_code,
                    note=note,
                )
            )
            if recorded is not None:
                seen[claim_id] = recorded.claim_version  # a second click is now a stale decision
                st.session_state["review_flash"] = f"Recorded: {decision.replace('_', ' ')} ({reason_code})."
                st.rerun()
elif detail.status == "decided":
    st.success("Decided.")
