"""The monitoring charts built from stored reports and alerts: the ROC-AUC band stays in
[0, 1] (also for reports stored before the band was kept), the chart states what the
estimate assumes and marks the weeks where the realized ROC-AUC fell below the band, and
the alert timeline has a legend for its colours; the chart draws the ROC-AUC realized on the
champion's test claims and the estimate on them that the drop alert compares with."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from core.monitoring.alerting import AlertView
from core.monitoring.drift import Metric
from core.monitoring.results import StoredReport
from dashboard import charts

MONDAY = date(2026, 5, 4)


def stored(week: int, details: dict) -> StoredReport:  # type: ignore[type-arg]
    start = MONDAY + timedelta(days=7 * week)
    metric = Metric("performance", "roc_auc", "all", "cbpe", 0.0, 0.05, None, 0, 150, {"reference": 0.826, **details})
    return StoredReport(week, "week", start, start + timedelta(days=6), MONDAY, MONDAY, 150, [metric], [], 0)


def trace(figure, prefix: str):  # type: ignore[no-untyped-def]
    return next((t for t in figure.data if t.name and t.name.startswith(prefix)), None)


def test_the_band_is_clipped_to_one_for_old_and_new_reports_and_the_assumption_is_on_the_chart() -> None:
    old = stored(0, {"estimated": 0.93, "estimated_std": 0.05, "realized": 0.9})  # stored before the clipping
    new = stored(1, {"estimated": 0.85, "estimated_std": 0.05, "estimated_lower": 0.75, "estimated_upper": 0.95})
    figure = charts.performance([old, new])
    band = trace(figure, "estimate ±2 sd")
    assert max(band.y) == 1.0 and min(band.y) >= 0  # 0.93 + 2 × 0.05 would be 1.03
    assert "calibrated" in figure.layout.title.text and "no concept drift" in figure.layout.title.text
    assert figure.layout.yaxis.range[1] == 1.0
    assert trace(figure, "realized below the band") is None  # 0.9 is inside the first band


def test_weeks_whose_realized_auc_fell_below_the_band_are_marked_and_explained() -> None:
    calm = stored(
        0,
        {"estimated": 0.84, "estimated_std": 0.05, "estimated_lower": 0.74, "estimated_upper": 0.94, "realized": 0.86},
    )
    storm = stored(
        1,
        {
            "estimated": 0.81,
            "estimated_std": 0.03,
            "estimated_lower": 0.75,
            "estimated_upper": 0.87,
            "realized": 0.69,
            "expected_fraud_rate": 0.159,
            "observed_fraud_rate": 0.047,
        },
    )
    figure = charts.performance([calm, storm])
    marked = trace(figure, "realized below the band")
    assert marked is not None and list(marked.x) == [storm.window_start] and list(marked.y) == [0.69]
    assert "calibration" in marked.name and "no longer match outcomes" in marked.hovertext[0]
    assert "expected fraud rate 15.9%, observed 4.7%" in marked.hovertext[0]


def alert(week: int, signal: str, segment: str, acknowledged: bool) -> AlertView:
    family, metric = signal.split(": ")
    return AlertView(
        week * 10 + len(segment),
        week,
        MONDAY + timedelta(days=7 * week),
        MONDAY + timedelta(days=7 * week + 6),
        family,
        metric,
        segment,
        f"{metric} shifted",
        "max" if acknowledged else None,
        datetime.now(UTC) if acknowledged else None,
        "seen" if acknowledged else None,
    )


def test_the_alert_timeline_has_one_marker_per_week_and_signal_with_a_legend_for_open_and_acknowledged() -> None:
    alerts = [
        alert(0, "field: claimed_amount", "all", acknowledged=False),
        alert(0, "field: claimed_amount", "region=south", acknowledged=True),
        alert(0, "text: term_shift", "all", acknowledged=True),
        alert(1, "field: claimed_amount", "all", acknowledged=True),
    ]
    figure = charts.alert_timeline(alerts)
    assert figure.layout.showlegend is True and figure.layout.legend.title.text == "status"
    by_name = {t.name: t for t in figure.data}
    assert set(by_name) == {"open", "acknowledged"}
    assert by_name["open"].marker.color == charts.ALERT_STATUS_COLORS["open"]
    assert len(by_name["open"].x) == 1  # week 0's amount: one of its two segments is still open
    assert len(by_name["acknowledged"].x) == 2
    assert max(by_name["open"].marker.size) == 2  # sized by the segments it alerted in


def reference_lines(figure) -> dict[str, float]:  # type: ignore[no-untyped-def]
    return {a.text: s.y0 for a, s in zip(figure.layout.annotations, figure.layout.shapes, strict=True)}


def test_the_chart_draws_the_test_claims_realized_and_estimated_auc_the_alert_compares_with() -> None:
    old = stored(0, {"estimated": 0.84, "estimated_std": 0.05})  # stored before the reference estimate was kept
    assert reference_lines(charts.performance([old])) == {"realized on the test claims": 0.826}
    new = stored(
        1, {"estimated": 0.84, "estimated_std": 0.05, "reference_estimated": 0.847, "reference_realized": 0.83}
    )
    assert reference_lines(charts.performance([old, new])) == {
        "realized on the test claims": 0.83,
        "estimated on the test claims (alerts compare with this)": 0.847,
    }
