"""Managers: volumes, score distribution, band mix, decisions against predictions and
sentiment over time, from the stored predictions."""

import streamlit as st

from core.monitoring.overview import overview
from dashboard import charts
from dashboard.ui import actor_or_stop, attempt

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
numbers[2].metric("Decisions", f"{int(summary.outcomes['claims'].sum()):,}" if len(summary.outcomes) else "0")
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
