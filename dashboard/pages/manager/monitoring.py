"""Managers, in three tabs: the overview (volumes, score distribution, band mix, decisions
against predictions, sentiment over time), drift and estimated performance, and the alerts
inbox (one incident per week), from stored reports."""

import pandas as pd
import streamlit as st

from core.auth import Actor, Permission
from core.monitoring import alerting, incidents, report, results
from core.monitoring.overview import overview
from dashboard import charts
from dashboard.background import scoring_banner
from dashboard.ui import actor_or_stop, attempt, current_actor, rerun_fragment

ALERTS_TAB = "Alerts inbox"
OLD_CALIBRATION = "the champion's own probabilities (a report stored before recalibration)"


def overview_section(actor: Actor) -> None:
    period = st.date_input("Reported between", value=(), key="monitoring_dates")
    summary = attempt(
        lambda s, actor: overview(
            s, actor=actor, since=period[0] if len(period) > 0 else None, until=period[1] if len(period) > 1 else None
        )
    )
    if summary is None:
        return
    if not summary.total_claims:
        st.info("No claims in this period. Load some with `claimlens seed` or `claimlens import FILE`.")
        return
    numbers = st.columns(3)
    numbers[0].metric("Claims", f"{summary.total_claims:,}")
    numbers[1].metric("Champion claim model", f"v{summary.champion_version}" if summary.champion_version else "none")
    numbers[2].metric("Decisions", f"{summary.total_decisions:,}")
    left, right = st.columns(2)
    left.plotly_chart(charts.volume(summary.volume, summary.segment_label), key="monitoring_volume")
    if len(summary.scores):
        right.plotly_chart(charts.score_distribution(summary.scores), key="monitoring_scores")
        left.plotly_chart(charts.band_mix(summary.bands), key="monitoring_bands")
    else:
        right.info("The champion has not scored these claims yet: run `claimlens score`.")
    if len(summary.outcomes):
        right.plotly_chart(charts.outcomes(summary.outcomes), key="monitoring_outcomes")
    if len(summary.sentiment):
        st.plotly_chart(charts.sentiment_share(summary.sentiment), key="monitoring_sentiment")


def stored_reports(actor: Actor) -> list[results.StoredReport]:
    stored = attempt(lambda s, actor: results.reports(s, actor=actor)) or []
    if not stored:
        st.info(
            "No drift reports yet. The worker writes the weekly reports once every claim is scored and every "
            "flagged claim explained (its progress is shown above); `claimlens drift` writes them by hand."
        )
    return stored


def drift_section(stored: list[results.StoredReport]) -> None:
    st.caption(
        f"Each week compared with the champion's training window "
        f"({stored[0].reference_start} .. {stored[0].reference_end})."
    )
    st.plotly_chart(charts.drift_heatmap(stored), key="drift_heatmap")
    st.plotly_chart(charts.performance(stored), key="drift_performance")
    latest_performance = next((r.metric("roc_auc") for r in reversed(stored) if r.metric("roc_auc")), None)
    if latest_performance:
        st.caption(
            "Estimated ROC-AUC: confidence-based (CBPE); calibration: "
            f"{latest_performance.details.get('calibration', OLD_CALIBRATION)}. "
            f"{charts.PERFORMANCE_ASSUMPTION} Realized ROC-AUC uses the outcomes known for a week's claims (an "
            "adjuster's decision, else the label the claim was imported with); ✕ marks weeks where it fell below "
            "the estimate's band."
        )


# The confirmation in progress holds what it showed: (report id, number of open alerts).
FLASH_KEY, CONFIRM_KEY = "monitoring_flash", "incident_ack_for"


def _done(message: str, *keys: str) -> None:
    """After an acknowledgement: say so on the next run, clear the inputs, rerun the fragment."""
    st.session_state[FLASH_KEY] = message
    for key in keys:
        st.session_state.pop(key, None)
    rerun_fragment()


def acknowledge_controls(incident: incidents.Incident, viewer: Actor) -> None:
    """Bulk acknowledgement is an explicit action with a confirmation; one alert is
    acknowledged by choosing it (nothing is preselected)."""
    pending = incident.open_alerts
    if not pending:
        st.info("Every alert of this week is acknowledged.")
        return
    week = incident.window_start
    shown = st.session_state.get(CONFIRM_KEY)
    if not shown or shown[0] != incident.report_id:
        label = "the alert" if len(pending) == 1 else f"all {len(pending)} alerts"
        if st.button(f"Acknowledge {label} of this incident", key="incident_ack"):
            st.session_state[CONFIRM_KEY] = (incident.report_id, len(pending))
            rerun_fragment()
    else:
        # The number the manager was shown, not a recount on the confirming click: core
        # refuses if someone acknowledged some meanwhile.
        n = shown[1]
        with st.container(border=True):
            st.warning(
                f"This acknowledges {'the open alert' if n == 1 else f'all {n} open alerts'} of the week of {week} "
                f"({len(incident.signals)} signals × {len(incident.segments)} segments) with one note."
            )
            note = st.text_area("What was done (required)", key="incident_ack_note")
            confirm, cancel = st.columns(2)
            if confirm.button(
                f"Confirm: acknowledge {n} alert{'' if n == 1 else 's'}", key="incident_ack_confirm", type="primary"
            ):
                done = attempt(
                    lambda s, actor: incidents.acknowledge_incident(
                        s, actor=actor, report_id=incident.report_id, note=note, expected=n
                    )
                )
                if done is not None:
                    _done(f"Acknowledged {done} alerts of the week of {week}.", CONFIRM_KEY, "incident_ack_note")
                else:  # refused (said above): confirming again is about the alerts open now
                    st.session_state[CONFIRM_KEY] = (incident.report_id, len(pending))
            if cancel.button("Cancel", key="incident_ack_cancel"):
                st.session_state.pop(CONFIRM_KEY, None)
                rerun_fragment()
    with st.form("acknowledge_one"):
        alert = st.selectbox(
            "Or acknowledge one alert",
            pending,
            index=None,
            placeholder="Choose an alert",
            format_func=lambda a: f"{a.signal} · {a.segment}: {a.message}",
            key="ack_alert",
        )
        note = st.text_input("What was done (required)", key="ack_note")
        if st.form_submit_button("Acknowledge this alert", key="ack_submit"):
            if alert is None:
                st.error("Choose the alert to acknowledge.")
            elif (
                attempt(lambda s, actor: alerting.acknowledge(s, actor=actor, alert_id=alert.id, note=note)) is not None
            ):
                _done(f"Acknowledged: {alert.message}.", "ack_alert", "ack_note")


def _week_label(box: incidents.Inbox, start: object) -> str:
    incident = box.incident(start)  # type: ignore[arg-type]
    return f"{start} · {len(incident.alerts)} alerts, {incident.open} open" if incident else f"{start} · no alerts"


@st.fragment(key="monitoring_alerts")
def alerts_section(stored: list[results.StoredReport]) -> None:
    """The alerts inbox (one incident per week: its signals × segments), one week's
    details, acknowledgement and retraining: picking a week or acknowledging reruns only
    this part."""
    # Re-read on every run of the fragment: a click here does not rerun the page's top, and
    # whoever was signed out, disabled or demoted since must not act as the user read there.
    viewer = current_actor()
    if viewer is None:
        st.rerun()  # the whole app, which now shows the sign-in page and why
    box = attempt(lambda s, actor: incidents.inbox(s, actor=actor))
    if box is None:
        return
    st.subheader("Alerts inbox")
    if flash := st.session_state.pop(FLASH_KEY, None):
        st.success(flash)
    counts = st.columns(3)
    counts[0].metric("Open alerts", f"{box.open_alerts:,}")
    counts[1].metric("Weeks with open alerts", len(box.open_incidents))
    counts[2].metric("Weeks with alerts", len(box.incidents))
    if box.open_incidents:
        st.dataframe(
            pd.DataFrame(
                [
                    {
                        "week": i.window_start,
                        "open": i.open,
                        "alerts": len(i.alerts),
                        "signals": len(i.signals),
                        "segments": ", ".join(i.segments),
                    }
                    for i in box.open_incidents
                ]
            ),
            hide_index=True,
            key="alert_inbox",
        )
    elif box.incidents:
        st.success("No open alerts: every alert has been acknowledged.")
    if box.incidents:
        st.plotly_chart(
            charts.alert_timeline([a for i in box.incidents for a in i.alerts]), key="drift_alerts_timeline"
        )

    by_start = {r.window_start: r for r in stored}
    weeks = list(by_start)[::-1]  # newest first
    opening = box.latest_open() or next(iter(box.incidents), None)  # the newest week with open alerts
    chosen = by_start[
        st.selectbox(
            "Week",
            weeks,
            index=weeks.index(opening.window_start) if opening and opening.window_start in by_start else 0,
            key="drift_week",
            format_func=lambda d: _week_label(box, d),
        )
    ]
    left, right = st.columns(2)
    score_metric = chosen.metric("score_distribution")
    if score_metric:
        left.plotly_chart(charts.score_overlay(score_metric), key="drift_scores")
    if chosen.changed_terms:
        right.plotly_chart(charts.changed_terms(chosen.changed_terms), key="drift_terms")

    incident = box.incident(chosen.window_start)
    st.subheader(f"Incident: the week of {chosen.window_start}")
    if incident is None:
        st.success("No alerts this week.")
        return
    st.caption(f"{incident.summary()}. ● open, ✓ acknowledged.")
    marks = {incidents.OPEN: "●", incidents.ACKNOWLEDGED: "✓"}
    st.dataframe(incident.matrix().map(lambda v: marks.get(v, "")), key="incident_matrix")
    st.dataframe(
        pd.DataFrame(
            [
                {
                    "signal": a.signal,
                    "segment": a.segment,
                    "what": a.message,
                    "acknowledged by": a.acknowledged_by or "",
                    "note": a.acknowledgement or "",
                }
                for a in incident.alerts
            ]
        ),
        hide_index=True,
        key="drift_alert_table",
    )
    if viewer.may(Permission.TRAIN_MODELS):
        acknowledge_controls(incident, viewer)
        if st.button(f"Retrain the claim model on data up to {chosen.window_end}", key="drift_retrain"):
            run_id = attempt(lambda s, actor: report.retrain_on_window(s, actor=actor, report_id=chosen.id))
            if run_id is not None:
                st.success(f"Queued training run {run_id}; follow it on Models and retraining.")


actor = actor_or_stop()
st.title("Monitoring")
scoring_banner(actor)  # while the worker catches up, the charts below cover only what it has scored
# Only the open tab runs and draws (each section reads its own tables and draws two to five
# charts): a manager's first view of the page waits for one section, not three.
overview_tab, drift_tab, alerts_tab = st.tabs(
    ["Overview", "Drift and performance", ALERTS_TAB], on_change="rerun", key="monitoring_tab"
)
if overview_tab.open:
    with overview_tab:
        overview_section(actor)
if drift_tab.open:
    with drift_tab:
        if stored := stored_reports(actor):
            drift_section(stored)
if alerts_tab.open:
    with alerts_tab:
        if stored := stored_reports(actor):
            alerts_section(stored)
