"""Drift alerts: which drifting metrics raise one (one per signal and segment), their
words, the webhook they are posted to, and reading and acknowledging them (a whole week's
at once: `core.monitoring.incidents`)."""

from __future__ import annotations

import json
import logging
import urllib.parse
import urllib.request
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from core import audit, clock, registry
from core.auth import Actor, Permission, require
from core.config import get_settings
from core.errors import InvalidInput, NotFound
from core.monitoring import drift
from core.monitoring.results import DriftRun
from core.tasks import Task
from db import dialect
from db.dialect import rows_changed
from db.models import (
    DriftAlert,
    DriftReport,
)

log = logging.getLogger(__name__)


def alerts_to_raise(metrics: list[drift.Metric]) -> list[drift.Metric]:
    """The drifting metrics that raise an alert: one per signal (family and metric) and
    segment, the most severe where a window's metrics name the same one twice."""
    chosen: dict[tuple[str, str, str], drift.Metric] = {}
    for metric in metrics:
        key = (metric.family, metric.name, metric.segment)
        if metric.drift and (key not in chosen or metric.severity > chosen[key].severity):
            chosen[key] = metric
    return list(chosen.values())


def describe(metric: drift.Metric) -> str:
    where = "" if metric.segment == "all" else f" in {metric.segment.replace('=', ' ')}"
    label = metric.name.replace("_", " ")
    if metric.family == "performance":
        return _describe_performance(metric.details, where, metric.value)
    if metric.name == "term_shift":
        d = metric.details
        return f"narratives mention '{d['term']}' in {d['current']:.1%} of claims, {d['reference']:.1%} in training"
    if metric.family == "text":
        return f"narratives changed: a classifier tells this window from training with AUC {metric.value:.2f}"
    if metric.family == "sentiment":
        d = metric.details
        return f"negative messages {d['current']:.0%} vs {d['reference']:.0%} in training"
    return f"{label}{where} shifted ({metric.method.split('+')[0].upper()} {metric.value:.2f} ≥ {metric.threshold:.2f})"


def _describe_performance(d: dict[str, Any], where: str, drop: float) -> str:
    """The estimate, the reference estimate it dropped from, and the realized ROC-AUC there."""
    realized = d.get("reference_realized")
    measured = f"; {realized:.3f} realized there" if realized is not None else ""
    return (
        f"estimated ROC-AUC{where} {d['estimated']:.3f}, {d['reference_estimated']:.3f} estimated the same way "
        f"on the champion's test claims{where}{measured} (drop {drop:.3f} from that estimate)"
    )


def notify(run: DriftRun) -> str | None:
    """Post the run's alerts to the configured webhook; call it after the reports are
    committed. Returns what went wrong, if anything (the reports are stored either way)."""
    return _post_webhook(run) if run.alerts else None


def _post_webhook(run: DriftRun) -> str | None:
    url = get_settings().drift_webhook_url
    if not url:
        return None
    body = json.dumps(
        {
            "source": "claimlens",
            "alerts": [
                {"window_start": r.window_start.isoformat(), "window_end": r.window_end.isoformat(), "alerts": r.alerts}
                for r in run.reports
                if r.alerts
            ],
        }
    ).encode()
    try:
        request = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"}, method="POST")
        with urllib.request.urlopen(request, timeout=5):  # the operator configures this URL
            return None
    except (OSError, ValueError) as error:  # unreachable or malformed URL; the caller shows this
        where = _host_only(url)  # a webhook URL often carries its token in the path or query
        log.warning("drift webhook to %s failed: %s", where, error)
        return f"webhook to {where} failed: {error}"


def _host_only(url: str) -> str:
    """The scheme and host of a URL, without path, query or credentials."""
    try:
        parts = urllib.parse.urlsplit(url)
        return f"{parts.scheme}://{parts.hostname}" if parts.hostname else "(a malformed URL)"
    except ValueError:
        return "(a malformed URL)"


@dataclass(frozen=True)
class AlertView:
    id: int
    report_id: int
    window_start: date
    window_end: date
    family: str
    metric: str
    segment: str
    message: str
    acknowledged_by: str | None
    acknowledged_at: datetime | None
    acknowledgement: str | None

    @property
    def signal(self) -> str:
        return f"{self.family}: {self.metric}"


def alerts(session: Session, *, actor: Actor, open_only: bool = False, window: str = "week") -> list[AlertView]:
    """The current champion's alerts for one window kind, newest window first."""
    require(actor, Permission.VIEW_MONITORING)
    from db.models import User

    query = (
        select(DriftAlert, DriftReport.window_start, DriftReport.window_end, User.username)
        .join(DriftReport, DriftReport.id == DriftAlert.report_id)
        .outerjoin(User, User.id == DriftAlert.acknowledged_by_id)
        .order_by(DriftReport.window_start.desc(), DriftAlert.id)
    )
    champion = registry.champion(session, Task.CLAIM_RISK)
    query = query.where(DriftReport.model_version_id == dialect.id_or_none(champion), DriftReport.window == window)
    if open_only:
        query = query.where(DriftAlert.acknowledged_at.is_(None))
    return [
        AlertView(
            a.id,
            a.report_id,
            start,
            end,
            a.family,
            a.metric,
            a.segment,
            a.message,
            user,
            a.acknowledged_at,
            a.acknowledgement,
        )
        for a, start, end, user in session.execute(query)
    ]


def acknowledge(session: Session, *, actor: Actor, alert_id: int, note: str) -> int:
    """Acknowledge one alert with a note (audited); returns its id."""
    require(actor, Permission.VIEW_MONITORING)
    require(actor, Permission.TRAIN_MODELS)  # acting on an alert is a manager's call
    text = acknowledgement_note(note)
    alert = session.get(DriftAlert, alert_id, with_for_update=True)
    if alert is None:
        raise NotFound(f"alert {alert_id} does not exist")
    already = f"alert {alert_id} was already acknowledged"
    if alert.acknowledged_at is not None:
        raise InvalidInput(already)
    # Only while still open: SQLite ignores FOR UPDATE, so a second manager acknowledging at
    # the same moment would otherwise overwrite the first one's name and note.
    written = session.execute(
        update(DriftAlert)
        .where(DriftAlert.id == alert_id, DriftAlert.acknowledged_at.is_(None))
        .values(acknowledged_by_id=actor.user_id, acknowledged_at=clock.now(), acknowledgement=text)
    )
    if rows_changed(written) != 1:
        raise InvalidInput(already)
    audit.record(
        session,
        actor=actor,
        action="drift.alert_acknowledged",
        entity_type="drift_alert",
        entity_id=alert_id,
        details={"metric": alert.metric, "segment": alert.segment, "note": text},
    )
    return alert_id


NOTE_LIMIT = 2000


def acknowledgement_note(note: str) -> str:
    """The note an acknowledgement must carry, trimmed; a longer one is refused (not cut)."""
    text = note.strip()
    if not text:
        raise InvalidInput("say what you did about the alert (retrained, expected change, ...)")
    if len(text) > NOTE_LIMIT:
        raise InvalidInput(f"the note has {len(text):,} characters; keep it to {NOTE_LIMIT:,}")
    return text
