"""Drift reports: for each day or week after the champion's training window, compute the
window against that reference (`calculator`), store every metric with its threshold and
verdict, and raise one alert per drifting signal and segment (`alerting`); and queue a
retraining run on a drifted window.

The reference and the windows are `windows`'; what the app reads back, `results`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core import audit, claim_store, registry
from core.auth import Actor, Permission, require
from core.errors import InvalidInput, NotFound
from core.monitoring import drift
from core.monitoring.alerting import alerts_to_raise, describe
from core.monitoring.calculator import TEXT_SAMPLE, Embedder, compute_window, sample_texts
from core.monitoring.results import DriftRun, ReportSummary
from core.monitoring.windows import (
    REFERENCE_SAMPLE,
    WINDOWS,
    claims_between,
    performance_baseline,
    reference_window,
    sentiments_between,
    window_starts,
)
from core.tasks import Task
from db.models import (
    Claim,
    DriftAlert,
    DriftReport,
    ModelVersion,
)


def run_drift(
    session: Session, *, actor: Actor, window: str = "week", until: date | None = None, max_windows: int | None = None
) -> DriftRun:
    """Compute and store a report for every window after the reference that has none yet."""
    require(actor, Permission.RUN_SCORING)
    if window not in WINDOWS:
        raise InvalidInput(f"window must be one of {', '.join(WINDOWS)}")
    version = registry.champion(session, Task.CLAIM_RISK)
    if version is None:
        raise InvalidInput("no champion claim model: train and promote one first")
    ref_start, ref_end = reference_window(session, version)
    last = until or session.scalar(select(func.max(Claim.report_date)))
    result = DriftRun(ref_start, ref_end)
    if last is None or last <= ref_end:
        return result
    done = set(
        session.scalars(
            select(DriftReport.window_start).where(
                DriftReport.model_version_id == version.id, DriftReport.window == window
            )
        )
    )
    starts = window_starts(ref_end + timedelta(days=1), last, window)
    todo = [s for s in starts if s not in done][: max_windows or None]
    if not todo:  # nothing new: skip loading the reference sample and the encoder
        return result
    t = drift.DriftThresholds.configured()
    reference = claims_between(session, version.id, ref_start, ref_end, REFERENCE_SAMPLE)
    reference_sentiment = sentiments_between(session, ref_start, ref_end)
    embed = Embedder(version)
    reference_embeddings = (
        embed(sample_texts(claim_store.texts(reference), 2 * TEXT_SAMPLE, 0)) if claim_store.text_columns() else None
    )
    baseline = performance_baseline(session, version, t)
    computed = []
    for start in todo:
        end = start + timedelta(days=WINDOWS[window] - 1)
        current = claims_between(session, version.id, start, end)
        if current.empty:
            continue
        sentiment = sentiments_between(session, start, end)
        metrics, terms = compute_window(
            reference, current, reference_sentiment, sentiment, version, embed, reference_embeddings, t, baseline
        )
        computed.append(ComputedWindow(start, end, len(current), metrics, terms))
    # All windows are computed before the first write: on SQLite a write takes the
    # database's one write lock, which the app's users must not wait behind.
    for done_window in computed:
        result.reports.append(
            store_window(session, version=version, window=window, reference=(ref_start, ref_end),
                         computed=done_window, thresholds=t)
        )  # fmt: skip
    if result.alerts:
        audit.record(
            session,
            actor=actor,
            action="drift.alerts_raised",
            entity_type="model_version",
            entity_id=version.id,
            details={"alerts": result.alerts, "windows": len(result.reports)},
        )
    return result


@dataclass(frozen=True)
class ComputedWindow:
    """One window's metrics and changed words, computed, not yet stored."""

    start: date
    end: date
    claims: int
    metrics: list[drift.Metric]
    terms: list[dict[str, Any]]


def store_window(
    session: Session,
    *,
    version: ModelVersion,
    window: str,
    reference: tuple[date, date],
    computed: ComputedWindow,
    thresholds: drift.DriftThresholds,
) -> ReportSummary:
    """Store a computed window's report and its alerts (one per drifting signal and segment)."""
    start, end, claims, metrics, terms, t = (
        computed.start, computed.end, computed.claims, computed.metrics, computed.terms, thresholds
    )  # fmt: skip
    ref_start, ref_end = reference
    drifting = alerts_to_raise(metrics)
    report = DriftReport(
        model_version_id=version.id,
        window=window,
        window_start=start,
        window_end=end,
        reference_start=ref_start,
        reference_end=ref_end,
        claims=claims,
        metrics=[m.to_dict() for m in metrics],
        changed_terms=terms,
        thresholds=asdict(t),
        alerts=len(drifting),
    )
    session.add(report)
    session.flush()
    messages = [describe(m) for m in drifting]
    for metric, message in zip(drifting, messages, strict=True):
        session.add(
            DriftAlert(
                report_id=report.id,
                family=metric.family,
                metric=metric.name,
                segment=metric.segment,
                value=float(metric.value),
                threshold=metric.threshold,
                message=message,
            )
        )
    return ReportSummary(start, end, claims, messages)


def retrain_on_window(session: Session, *, actor: Actor, report_id: int) -> int:
    """Queue a claim-model run on the reference window through the drifted window, so the
    challenger learns what changed; the gate then decides whether it replaces the champion."""
    from core import jobs

    require(actor, Permission.TRAIN_MODELS)
    stored = session.get(DriftReport, report_id)
    if stored is None:
        raise NotFound(f"drift report {report_id} does not exist")
    run = jobs.queue_training(
        session, actor=actor, task=Task.CLAIM_RISK, since=stored.reference_start, until=stored.window_end
    )
    audit.record(
        session,
        actor=actor,
        action="drift.retraining_queued",
        entity_type="drift_report",
        entity_id=report_id,
        details={"training_run": run.id, "until": stored.window_end.isoformat()},
    )
    return run.id
