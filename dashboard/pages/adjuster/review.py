"""Claim review: the claim, its stored prediction and explanation, its fields in sections,
messages, history, and (for adjusters) the decision form, SIU's outcome form on a
referred claim, or a comment on a decided one."""

import pandas as pd
import streamlit as st

from core import claim_fields, explanations, review
from core.auth import Permission
from core.schema import active_schema
from dashboard import charts
from dashboard.ui import actor_or_stop, attempt, bounded_text_area, claim_or_stop, plain
from db.models import SIU_STATUS

actor = actor_or_stop()
schema = active_schema()
st.title("Claim review")

number = st.text_input("Claim number", key="review_claim_number", placeholder="as the claims system writes it")
if number and st.button("Open", key="review_open"):
    claim_id = attempt(lambda s, actor: review.find_claim(s, actor=actor, claim_number=number))
    if claim_id is not None:
        st.session_state["claim_id"] = claim_id
if "claim_id" not in st.session_state and (linked := st.query_params.get("claim")):
    # A reload or a shared link: the claim in the address, not a new session's empty page.
    st.session_state["claim_id"] = attempt(lambda s, actor: review.find_claim(s, actor=actor, claim_number=linked))
claim_id = st.session_state.get("claim_id")
if claim_id is None:
    st.info("Open a claim from the triage queue, or type its number.")
    st.stop()

detail = claim_or_stop(actor, claim_id)
st.query_params["claim"] = detail.claim_number  # so a reload opens this claim again
if flash := st.session_state.pop("review_flash", None):
    st.success(flash)
seen = st.session_state.setdefault("seen_versions", {})
expected_version = seen.setdefault(claim_id, detail.version)

fields = detail.fields
status_name = review.STATUS_NAMES.get(detail.status, detail.status)
st.subheader(f"{plain(detail.headline)} · {status_name}")
prediction = detail.prediction
top = st.columns(4)
top[0].metric("Fraud probability", f"{prediction.probability:.1%}" if prediction else "not scored")
top[1].metric("Risk band", prediction.band if prediction else "—")
top[2].metric("Status", status_name)
top[3].metric("Assigned to", detail.assigned_to or "nobody")

explanation = prediction.explanation if prediction else None
left, right = st.columns([3, 2])
with left:
    if schema.text:  # a schema may have no free text: then the fields below are the whole claim
        text_label = claim_fields.text_label(schema).capitalize()
        shading = " (shaded by contribution: red raises the risk, blue lowers it)" if explanation else ""
        st.markdown(f"**{plain(text_label)}**{shading}")
        if explanation and explanation.words:
            st.html(charts.highlighted_words(explanation.words))
        else:
            st.text(detail.narrative or f"(no {text_label.lower()})")
    if explanation:
        st.markdown("**Top reasons**")
        for reason in explanation.reasons:
            st.markdown(f"- {plain(reason)}")
        st.html(charts.field_contributions(explanation.fields))
        st.caption(
            f"SHAP ({explanation.method}, {explanation.parameters.get('max_evals')} evaluations): base "
            f"{explanation.base_value:.3f} + contributions = {explanation.output_value:.3f}"
        )
    elif prediction and actor.may(Permission.EXPLAIN) and st.button("Explain this claim now", key="review_explain"):
        with st.spinner("Explaining this claim…"):
            explained = attempt(lambda s, actor: explanations.explain_claim(s, actor=actor, claim_id=claim_id))
        if explained is not None:
            st.rerun()
with right:
    for section in detail.sections:
        with st.container(border=True):
            st.markdown(f"**{section.title}**")
            st.markdown("  \n".join(f":gray[{plain(label)}:] {plain(value)}" for label, value in section.rows))

st.markdown(f"**Claimant messages** ({len(detail.messages)})")
if detail.messages:
    with st.container(height=420 if len(detail.messages) > 4 else "content", key="review_messages"):
        for m in detail.messages:
            sentiment = (
                f"{m.sentiment} ({m.confidence:.0%} confident)"
                if m.sentiment and m.confidence is not None
                else (m.sentiment or "sentiment not scored")
            )
            st.caption(f"{review.moment(m.sent_at)} · {m.direction} · {plain(m.channel)} · {sentiment}")
            st.markdown(plain(m.text))
else:
    st.caption("No messages.")

with st.expander("Prediction history, decisions and comments"):
    st.dataframe(
        pd.DataFrame(
            [
                {
                    "Model": f"{p.model_task} v{p.model_version}",
                    "Probability": p.probability,
                    "Band": p.band,
                    "Scored": review.moment(p.created_at),
                    "Explained": p.explanation is not None,
                }
                for p in detail.history
            ]
        ),
        hide_index=True,
        key="review_history",
        column_config={"Probability": st.column_config.NumberColumn(format="%.3f")},
    )
    for d in detail.decisions:
        st.markdown(
            f"- **{review.decided_as(d.decision, d.reason_code)}** by {plain(d.decided_by)} "
            f"at {review.moment(d.decided_at)}" + (f": {plain(d.note)}" if d.note else "")
        )
    for c in detail.comments:
        st.markdown(f"- comment by {plain(c.author)} at {review.moment(c.created_at)}: {plain(c.text)}")

choices = detail.choices_for(actor)
# A new comment, or a decision recorded here that leaves the claim open (request info, an SIU
# referral), gives the form's widgets new keys: under their old keys the browser keeps the
# choice and the text, and a second click would record the same decision again.
recorded_here = st.session_state.setdefault("review_recorded", {}).get(claim_id, 0)
form_suffix = f"_{recorded_here}" if recorded_here else ""
note_key = f"review_note_{claim_id}{form_suffix}"
decision_key, reason_key = f"review_decision_{claim_id}{form_suffix}", f"review_reason_{claim_id}{form_suffix}"
comment_key = f"review_comment_{claim_id}_{len(detail.comments)}"
if actor.may(Permission.REVIEW_CLAIMS) and choices:
    siu = detail.status == SIU_STATUS
    names = review.SIU_OUTCOME_NAMES if siu else review.DECISION_NAMES
    st.divider()
    st.markdown("**SIU outcome**" if siu else "**Decision**")
    if detail.version != expected_version:
        st.warning("This claim changed since you opened it. Reload to see the latest state before deciding.")
        if st.button("Reload", key="review_reload"):
            seen[claim_id] = detail.version
            st.rerun()
    decision = st.radio(
        "SIU outcome" if siu else "Decision",
        list(choices),
        index=None,  # no default: the adjuster chooses, even on a high-risk claim
        horizontal=True,
        label_visibility="collapsed",  # the heading above says it
        key=decision_key,  # per claim: nothing carries over to the next one
        format_func=lambda d: names.get(d, d),
    )
    reason_code = st.selectbox(
        "Reason code",
        choices[decision] if decision else (),
        index=None,
        key=reason_key,
        format_func=review.reason_name,
        placeholder="Choose a reason (required)" if decision else "Choose a decision first",
        disabled=decision is None,
    )
    note, cut_now = bounded_text_area("Note (optional)", key=note_key, limit=review.MAX_NOTE_LENGTH)
    if st.button("Record decision", type="primary", key="review_submit"):
        if decision is None:
            st.error("Choose a decision.")
        elif reason_code is None:
            st.error("Choose a reason code.")
        elif cut_now:
            st.error("The note was cut to fit (see above); check it, then record the decision again.")
        else:
            recorded = attempt(
                lambda s, actor: review.decide(
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
                st.session_state["review_recorded"][claim_id] = recorded_here + 1  # the next form: a new box
                st.session_state.pop(note_key, None)  # saved with the decision: not again with the next one
                st.session_state["review_flash"] = (
                    f"Recorded: {names.get(decision, decision)} ({review.reason_name(reason_code)})."
                )
                st.rerun()
elif detail.status == SIU_STATUS and actor.may(Permission.REVIEW_CLAIMS):
    st.info("You referred this claim to SIU: another reviewer records its outcome.")
elif not choices:
    latest = detail.decisions[0] if detail.decisions else None
    if latest and detail.version != expected_version and actor.may(Permission.REVIEW_CLAIMS):
        # This tab had the claim open while someone decided it: say who and what, keep any typed
        # note (the form's state is still readable in this run, though the form is gone).
        typed_note = st.session_state.get(note_key) or ""
        tried = bool(typed_note or st.session_state.get(decision_key))
        st.warning(
            f"While you had this claim open, {plain(latest.decided_by)} decided it: "
            f"**{review.decided_as(latest.decision, latest.reason_code)}** at "
            f"{review.moment(latest.decided_at)}."
            + (" Your decision was not recorded." if tried else "")
            + (" Your note is kept below: add it as a comment." if typed_note else "")
        )
        if typed_note and not st.session_state.get(comment_key):
            st.session_state[comment_key] = typed_note
    elif latest:
        st.success(
            f"Decided: {review.decided_as(latest.decision, latest.reason_code)} by "
            f"{plain(latest.decided_by)} at {review.moment(latest.decided_at)}."
        )
    if actor.may(Permission.REVIEW_CLAIMS):
        comment, cut_now = bounded_text_area("Add a comment", key=comment_key, limit=review.MAX_NOTE_LENGTH)
        if st.button("Add comment", key="review_add_comment"):
            if cut_now:
                st.error("The comment was cut to fit (see above); check it, then add it again.")
            elif (
                attempt(lambda s, actor: review.add_comment(s, actor=actor, claim_id=claim_id, text=comment))
                is not None
            ):
                seen[claim_id] = detail.version
                st.session_state.pop(note_key, None)  # kept for the comment; now saved
                st.session_state["review_flash"] = "Comment added."
                st.rerun()
