"""Drift results as the app reads them: what a run computed (`DriftRun`) and the stored
reports of the champion with typed metrics (`StoredReport`, `reports`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from core import registry
from core.auth import Actor, Permission, require
from core.monitoring import drift
from core.tasks import Task
from db.models import (
    DriftReport,
)


@dataclass
class ReportSummary:
    window_start: date
    window_end: date
    claims: int
    alerts: list[str] = field(default_factory=list)


@dataclass
class DriftRun:
    reference_start: date
    reference_end: date
    reports: list[ReportSummary] = field(default_factory=list)

    @property
    def alerts(self) -> int:
        return sum(len(r.alerts) for r in self.reports)


@dataclass(frozen=True)
class StoredReport:
    id: int
    window: str
    window_start: date
    window_end: date
    reference_start: date
    reference_end: date
    claims: int
    metrics: list[drift.Metric]
    changed_terms: list[dict[str, Any]]
    alerts: int

    def metric(self, name: str, segment: str = "all") -> drift.Metric | None:
        return next((m for m in self.metrics if m.name == name and m.segment == segment), None)


def reports(session: Session, *, actor: Actor, window: str = "week") -> list[StoredReport]:
    """The champion's stored reports, oldest window first."""
    require(actor, Permission.VIEW_MONITORING)
    version = registry.champion(session, Task.CLAIM_RISK)
    if version is None:
        return []
    rows = session.scalars(
        select(DriftReport)
        .where(DriftReport.model_version_id == version.id, DriftReport.window == window)
        .order_by(DriftReport.window_start)
    )
    return [
        StoredReport(
            r.id,
            r.window,
            r.window_start,
            r.window_end,
            r.reference_start,
            r.reference_end,
            r.claims,
            [drift.Metric.from_stored(_with_severity(m, r.thresholds or {})) for m in r.metrics],
            list(r.changed_terms),
            r.alerts,
        )
        for r in rows
    ]


def _with_severity(metric: dict[str, Any], stored_thresholds: dict[str, Any]) -> dict[str, Any]:
    """A stored metric with its severity; reports stored before severities were kept get
    it computed from the metric and the thresholds the report was judged with."""
    if "severity" in metric:
        return dict(metric)
    wasserstein = float(stored_thresholds.get("wasserstein", drift.DriftThresholds.wasserstein))
    value = drift.severity(
        metric["family"],
        metric["method"],
        metric["value"],
        metric["threshold"],
        metric.get("details") or {},
        wasserstein,
    )
    return {**metric, "severity": value if np.isfinite(value) else None}
