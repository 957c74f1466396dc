"""Managers: volumes, score distribution, band mix, decisions against predictions and
sentiment over time, then drift, estimated performance and alerts from stored reports."""

import pandas as pd
import streamlit as st

from core.auth import Permission
from core.monitoring import report
from core.monitoring.overview import overview
from dashboard import charts
from dashboard.ui import actor_or_stop, attempt, rerun_fragment

actor = actor_or_stop()
st.title("Monitoring")
period = st.date_input("Reported between", value=(), key="monitoring_dates")
summary = attempt(
    lambda s: overview(
        s, actor=actor, since=period[0] if len(period) > 0 else None, until=period[1] if len(period) > 1 else None
    )
)
if summary is None:
    st.stop()
if not summary.total_claims:
    st.info("No claims in this period. Load some with `claimlens seed` or `claimlens import FILE`.")
    st.stop()
numbers = st.columns(3)
numbers[0].metric("Claims", f"{summary.total_claims:,}")
numbers[1].metric("Champion claim model", f"v{summary.champion_version}" if summary.champion_version else "none")
numbers[2].metric("Decisions", f"{summary.total_decisions:,}")
left, right = st.columns(2)
left.plotly_chart(charts.volume(summary.volume), key="monitoring_volume")
if len(summary.scores):
    right.plotly_chart(charts.score_distribution(summary.scores), key="monitoring_scores")
    left.plotly_chart(charts.band_mix(summary.bands), key="monitoring_bands")
else:
    right.info("The champion has not scored these claims yet: run `claimlens score`.")
if len(summary.outcomes):
    right.plotly_chart(charts.outcomes(summary.outcomes), key="monitoring_outcomes")
if len(summary.sentiment):
    st.plotly_chart(charts.sentiment_share(summary.sentiment), key="monitoring_sentiment")

st.header("Drift and estimated performance")
stored = attempt(lambda s: report.reports(s, actor=actor)) or []
if not stored:
    st.info("No drift reports yet: `claimlens drift` (also run after `claimlens score`) writes them.")
    st.stop()
st.caption(
    f"Each week compared with the champion's training window "
    f"({stored[0].reference_start} .. {stored[0].reference_end})."
)
st.plotly_chart(charts.drift_heatmap(stored), key="drift_heatmap")
st.plotly_chart(charts.performance(stored), key="drift_performance")


@st.fragment
def alerts_section(stored: list[report.StoredReport]) -> None:
    """Alerts, one week's details, acknowledgement and retraining: picking a week or
    acknowledging reruns only this part, not the overview queries above."""
    all_alerts = attempt(lambda s: report.alerts(s, actor=actor)) or []
    if all_alerts:
        st.plotly_chart(charts.alert_timeline(all_alerts), key="drift_alerts_timeline")

    by_start = {r.window_start: r for r in stored}
    chosen = by_start[
        st.selectbox(
            "Week", list(by_start)[::-1], key="drift_week", format_func=lambda d: f"{d} ({by_start[d].alerts} alerts)"
        )
    ]
    left, right = st.columns(2)
    score_metric = chosen.metric("score_distribution")
    if score_metric:
        left.plotly_chart(charts.score_overlay(score_metric), key="drift_scores")
    if chosen.changed_terms:
        right.plotly_chart(charts.changed_terms(chosen.changed_terms), key="drift_terms")

    week_alerts = [a for a in all_alerts if a.window_start == chosen.window_start]
    st.subheader(f"Alerts in the week of {chosen.window_start}")
    if not week_alerts:
        st.success("No alerts this week.")
        return
    st.dataframe(
        pd.DataFrame(
            [
                {
                    "signal": f"{a.family}: {a.metric}",
                    "segment": a.segment,
                    "what": a.message,
                    "acknowledged by": a.acknowledged_by or "",
                    "note": a.acknowledgement or "",
                }
                for a in week_alerts
            ]
        ),
        hide_index=True,
        key="drift_alert_table",
    )
    pending = [a for a in week_alerts if a.acknowledged_at is None]
    if pending and actor.may(Permission.TRAIN_MODELS):
        with st.form("acknowledge", clear_on_submit=True):
            picked = st.multiselect("Acknowledge", pending, format_func=lambda a: a.message, key="ack_alerts")
            note = st.text_input("What was done (required)", key="ack_note")
            if st.form_submit_button("Acknowledge", key="ack_submit"):
                done = attempt(lambda s: [report.acknowledge(s, actor=actor, alert_id=a.id, note=note) for a in picked])
                if done is not None:
                    rerun_fragment()
        if st.button(f"Retrain the claim model on data up to {chosen.window_end}", key="drift_retrain"):
            run_id = attempt(lambda s: report.retrain_on_window(s, actor=actor, report_id=chosen.id))
            if run_id is not None:
                st.success(f"Queued training run {run_id}; follow it on Models and retraining.")


alerts_section(stored)
