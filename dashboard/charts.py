"""Plotly figures built from core result objects (no queries here)."""

from __future__ import annotations

import html
from typing import Any

import numpy as np
import pandas as pd
import plotly.express as px
import plotly.graph_objects as go

from core import claim_fields
from core.monitoring.alerting import AlertView
from core.monitoring.drift import Metric
from core.monitoring.results import StoredReport

POSITIVE, NEGATIVE = "#c0392b", "#2e86c1"
BAND_COLORS = {"high": "#c0392b", "medium": "#e67e22", "low": "#7f8c8d"}


def field_contributions(fields: dict[str, float], top: int = 12) -> str:
    """The SHAP value of each structured field (largest first) as HTML bars either side of
    a zero line, red raising the risk and blue lowering it, each with its value. HTML
    rather than Plotly: on the claim review this is the only chart, and drawing it with
    Plotly made the browser load and compile Plotly's 4.7 MB script for the page's first
    visit (bench_pages: take next -> review). Labels are escaped."""
    ranked = sorted(fields.items(), key=lambda item: abs(item[1]), reverse=True)[:top]
    scale = max((abs(value) for _, value in ranked), default=0.0) or 1.0
    rows = []
    for name, value in ranked:
        half = abs(value) / scale * 50  # percent of the bar area; zero is at 50%
        start = 50 - half if value < 0 else 50
        rows.append(
            "<div role='listitem' style='display:flex; align-items:center; gap:8px; margin:3px 0'>"
            f"<span style='flex:0 0 40%; text-align:right'>{html.escape(claim_fields.label(name))}</span>"
            "<span style='flex:1; position:relative; height:16px; "
            "background:linear-gradient(#9aa5b1,#9aa5b1) 50% 0 / 1px 100% no-repeat'>"
            f"<span style='position:absolute; left:{start:.1f}%; width:{half:.1f}%; height:100%; "
            f"background:{POSITIVE if value > 0 else NEGATIVE}'></span></span>"
            f"<span style='flex:0 0 56px; font-variant-numeric:tabular-nums'>{value:+.3f}</span></div>"
        )
    caption = "<div style='font-size:0.8em; color:#5b6570'>contribution to fraud probability</div>"
    return "<div role='list' aria-label='Contribution of each field'>" + "".join(rows) + caption + "</div>"


def highlighted_words(words: list[tuple[str, float]]) -> str:
    """The narrative as HTML, each word shaded by its contribution (red raises the risk,
    blue lowers it). Every word is escaped: narratives are shown as text, never markup."""
    scale = max((abs(v) for _, v in words), default=0.0) or 1.0
    spans = []
    for word, value in words:
        alpha = min(abs(value) / scale, 1.0) * 0.6
        rgb = "192,57,43" if value > 0 else "46,134,193"
        spans.append(
            f'<span title="{value:+.4f}" style="background: rgba({rgb},{alpha:.2f}); '
            f'border-radius: 3px; padding: 0 2px">{html.escape(word)}</span>'
        )
    return "<div style='line-height: 1.9'>" + " ".join(spans) + "</div>"


def importance_bars(values: dict[str, float], title: str, labels: dict[str, str] | None = None) -> go.Figure:
    frame = pd.DataFrame({"name": [(labels or {}).get(k, k) for k in values], "value": list(values.values())})
    figure = px.bar(frame.iloc[::-1], x="value", y="name", orientation="h", title=title)
    figure.update_layout(margin=dict(l=0, r=0, t=40, b=0), yaxis_title=None)
    return figure


def field_importance(fields: dict[str, float]) -> go.Figure:
    return importance_bars(fields, "Mean |SHAP| per field", claim_fields.labels())


def word_importance(words: list[tuple[str, float, int]]) -> go.Figure:
    frame = pd.DataFrame(words, columns=["word", "mean SHAP", "claims"])
    figure = px.bar(
        frame.iloc[::-1],
        x="mean SHAP",
        y="word",
        orientation="h",
        hover_data=["claims"],
        title="Words that move the score most",
        color="mean SHAP",
        color_continuous_scale="RdBu_r",
        color_continuous_midpoint=0.0,  # white at zero: red raises the risk, blue lowers it, as in the review
    )
    figure.update_layout(margin=dict(l=0, r=0, t=40, b=0), yaxis_title=None, coloraxis_showscale=False)
    return figure


def volume(frame: pd.DataFrame, segment_label: str = "") -> go.Figure:
    figure = px.bar(frame, x="week", y="claims", color="segment", title="Claims reported per week")
    figure.update_layout(legend_title_text=segment_label or None)
    return figure


def score_distribution(frame: pd.DataFrame) -> go.Figure:
    figure = px.density_heatmap(
        frame,
        x="week",
        y="bin_start",
        z="predictions",
        histfunc="sum",
        nbinsy=20,
        title="Fraud probability per week (champion)",
        color_continuous_scale="Blues",
    )
    figure.update_yaxes(title="probability")
    return figure


def band_mix(frame: pd.DataFrame) -> go.Figure:
    return px.area(
        frame,
        x="week",
        y="predictions",
        color="band",
        groupnorm="percent",
        title="Risk band mix",
        color_discrete_map=BAND_COLORS,
    )


def outcomes(frame: pd.DataFrame) -> go.Figure:
    pivot = frame.pivot_table(index="band", columns="decision", values="claims", aggfunc="sum", fill_value=0)
    return px.imshow(pivot, text_auto=True, title="Decisions by predicted band", color_continuous_scale="Blues")


def sentiment_share(frame: pd.DataFrame) -> go.Figure:
    return px.area(
        frame,
        x="week",
        y="share",
        color="sentiment",
        title="Sentiment of claimant messages",
        color_discrete_map={"negative": POSITIVE, "neutral": "#95a5a6", "positive": "#27ae60"},
    )


def _field_rows(reports: list[StoredReport]) -> pd.DataFrame:
    rows = [
        {"window": r.window_start, "metric": m.name, "severity": m.severity, "value": m.value, "drift": m.drift}
        for r in reports
        for m in r.metrics
        if m.segment == "all" and m.family in ("field", "prediction", "text", "sentiment")
    ]
    return pd.DataFrame(rows)


def drift_heatmap(reports: list[StoredReport]) -> go.Figure:
    """Each monitored field and signal per window, coloured by the metric's severity (its
    effect / threshold as judged in core.monitoring.drift, 1 = at the threshold); cells
    marked ● also passed the significance test and raised an alert."""
    frame = _field_rows(reports)
    if frame.empty:  # every window too small for a verdict
        return go.Figure(layout={"title": "Drift per signal and week: no window had enough claims for a verdict"})
    pivot = frame.pivot_table(index="metric", columns="window", values="severity", aggfunc="max")
    marks = frame.pivot_table(index="metric", columns="window", values="drift", aggfunc="max").reindex_like(pivot)
    figure = go.Figure(
        go.Heatmap(
            z=pivot.clip(upper=3).values,
            x=[str(c) for c in pivot.columns],
            y=pivot.index,
            text=marks.map(lambda d: "●" if d is True else "").values,
            texttemplate="%{text}",
            colorscale=[[0, "#f7fbff"], [1 / 3, "#fdd49e"], [1, "#b30000"]],
            zmin=0,
            zmax=3,
            colorbar={"title": "effect / threshold"},
        )
    )
    figure.update_layout(
        title="Drift per signal and week (● alert)",
        height=120 + 22 * len(pivot.index),
        margin=dict(l=0, r=0, t=40, b=0),
    )
    return figure


def score_overlay(metric: Metric) -> go.Figure:
    bins = [i / 20 for i in range(20)]
    figure = go.Figure()
    figure.add_bar(x=bins, y=metric.details["reference_histogram"], name="training window", opacity=0.6)
    figure.add_bar(x=bins, y=metric.details["current_histogram"], name="this window", opacity=0.6)
    figure.update_layout(
        barmode="overlay",
        title="Fraud probability: training window vs this window",
        xaxis_title="probability",
        yaxis_title="share of claims",
        margin=dict(l=0, r=0, t=40, b=0),
    )
    return figure


PERFORMANCE_ASSUMPTION = (
    "The estimate assumes the champion is still calibrated as on its test claims and that fraud given "
    "its inputs has not changed (no concept drift): it follows covariate shift only."
)


def _performance_rows(reports: list[StoredReport]) -> pd.DataFrame:
    """One row per window: the estimate with its band clipped to [0, 1] (reports stored
    before the band was kept get it computed here), realized, and the references."""
    frame = pd.DataFrame(
        [
            {"window": r.window_start, **m.details}
            for r in reports
            for m in r.metrics
            if m.family == "performance" and m.segment == "all"
        ]
    )
    if frame.empty:
        return frame
    std = frame["estimated_std"].astype(float).fillna(0)
    for column, sign in (("estimated_lower", -1), ("estimated_upper", 1)):
        computed = (frame["estimated"].astype(float) + sign * 2 * std).clip(0, 1)
        frame[column] = frame[column].astype(float).fillna(computed) if column in frame else computed
    frame["realized"] = frame["realized"].astype(float) if "realized" in frame else float("nan")
    frame["below_band"] = frame["realized"] < frame["estimated_lower"]
    return frame


def performance(reports: list[StoredReport]) -> go.Figure:
    """Estimated ROC-AUC (CBPE, no labels needed) with its ±2 SD band clipped to [0, 1],
    realized ROC-AUC where outcomes are known, the ROC-AUC realized and estimated on the
    champion's test claims (`_reference_lines`), and ✕ on the windows whose realized AUC
    fell below the band: there the estimate's assumption (calibration holds, no concept
    drift) broke, which the estimate itself cannot see."""
    frame = _performance_rows(reports)
    figure = go.Figure()
    if frame.empty:
        return figure
    windows = list(frame["window"])
    figure.add_scatter(
        x=windows + windows[::-1],
        y=list(frame["estimated_upper"]) + list(frame["estimated_lower"])[::-1],
        fill="toself",
        fillcolor="rgba(46,134,193,0.15)",
        line={"width": 0},
        name="estimate ±2 sd (clipped to [0, 1])",
        hoverinfo="skip",
    )
    figure.add_scatter(x=frame["window"], y=frame["estimated"], name="estimated (CBPE)", line={"color": "#2e86c1"})
    figure.add_scatter(
        x=frame["window"],
        y=frame["realized"],
        name="realized (known outcomes)",
        mode="lines+markers",
        line={"color": "#c0392b"},
    )
    broken = frame[frame["below_band"]]
    if len(broken):
        figure.add_scatter(
            x=broken["window"],
            y=broken["realized"],
            mode="markers",
            marker={"symbol": "x", "size": 12, "color": "#7b241c"},
            name="realized below the band: calibration broke",
            hovertext=[_broken_text(row) for _, row in broken.iterrows()],
            hoverinfo="text",
        )
    _reference_lines(figure, frame.iloc[-1])
    lowest = float(np.nanmin(frame[["estimated_lower", "realized"]].to_numpy(float)))
    figure.update_yaxes(title="ROC-AUC", range=[max(0.0, min(lowest, 0.7) - 0.05), 1.0])
    figure.update_layout(
        title={"text": f"ROC-AUC: estimated vs realized<br><sup>{PERFORMANCE_ASSUMPTION}</sup>"},
        margin=dict(l=0, r=0, t=60, b=0),
        legend={"orientation": "h", "y": -0.15},
    )
    return figure


def _reference_lines(figure: go.Figure, latest: pd.Series) -> None:
    """The newest report's references: the ROC-AUC realized on the test claims ("reference"
    in reports stored before the reference estimate was kept) and the estimate on them
    that the drop alert compares with."""
    realized = next((latest[k] for k in ("reference_realized", "reference") if pd.notna(latest.get(k))), None)
    if realized is not None:
        figure.add_hline(y=float(realized), line_dash="dot", annotation_text="realized on the test claims")
    if pd.notna(latest.get("reference_estimated")):
        figure.add_hline(
            y=float(latest["reference_estimated"]),
            line_dash="dash",
            line_color="#2e86c1",
            annotation_text="estimated on the test claims (alerts compare with this)",
            annotation_position="bottom right",
        )


def _broken_text(row: pd.Series) -> str:
    rates = ""
    if pd.notna(row.get("expected_fraud_rate")) and pd.notna(row.get("observed_fraud_rate")):
        rates = f" (expected fraud rate {row['expected_fraud_rate']:.1%}, observed {row['observed_fraud_rate']:.1%})"
    return (
        f"realized {row['realized']:.3f} < band {row['estimated_lower']:.3f}..{row['estimated_upper']:.3f}{rates}: "
        "claims score high (or low) for reasons the champion never saw, so its probabilities no longer match outcomes"
    )


ALERT_STATUS_COLORS = {"open": "#c0392b", "acknowledged": "#95a5a6"}


def alert_timeline(alerts: list[AlertView]) -> go.Figure:
    """One marker per week and signal: red while any of its alerts is open, grey once all
    are acknowledged; its size is the number of segments the signal alerted in."""
    frame = pd.DataFrame(
        [
            {
                "window": a.window_start,
                "signal": a.signal,
                "segment": a.segment,
                "open": a.acknowledged_at is None,
            }
            for a in alerts
        ]
    )
    grouped = (
        frame.groupby(["window", "signal"], as_index=False)
        .agg(segments=("segment", "nunique"), open=("open", "sum"), names=("segment", lambda s: ", ".join(sorted(s))))
        .assign(status=lambda f: np.where(f["open"] > 0, "open", "acknowledged"))
    )
    figure = px.scatter(
        grouped,
        x="window",
        y="signal",
        size="segments",
        size_max=16,
        color="status",
        color_discrete_map=ALERT_STATUS_COLORS,
        category_orders={"status": list(ALERT_STATUS_COLORS)},
        hover_data={"names": True, "open": True, "segments": True, "status": False},
        labels={"names": "segments", "open": "open alerts", "segments": "segments alerting"},
        title="Alerts per week and signal (size: segments alerting)",
    )
    figure.update_layout(
        margin=dict(l=0, r=0, t=40, b=0),
        showlegend=True,
        legend={"title": "status"},
        xaxis_title="week",
        yaxis_title=None,
    )
    return figure


def changed_terms(terms: list[dict[str, Any]]) -> go.Figure:
    frame = pd.DataFrame(terms).sort_values("log2_change")
    figure = px.bar(
        frame,
        x="log2_change",
        y="term",
        orientation="h",
        hover_data=["reference_share", "current_share"],
        title="Words whose share of the claims' text changed most (log2)",
    )
    figure.update_layout(margin=dict(l=0, r=0, t=40, b=0), yaxis_title=None)
    return figure
