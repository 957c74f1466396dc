"""Drift reports: for each day or week after the champion's training window, compare the
window with that reference, store every metric with its threshold and verdict, raise one
alert per drifting signal and segment (and post them to a webhook when configured), and
let a manager acknowledge an alert (a whole week's: `core.monitoring.incidents`).

The reference is the report-date range of the claims the champion was trained on (its
training run's manifest); the performance estimate is calibrated on the run's test claims
and compared with the same estimate on them, per segment (`performance_baseline`). Samples
are bounded (`REFERENCE_SAMPLE`, `TEXT_SAMPLE`) so a report costs the same at a million
claims as at ten thousand; tests grow faster than linearly only in the text check, which
is why that one is sampled hardest.
"""

from __future__ import annotations

import json
import logging
import urllib.parse
import urllib.request
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from sqlalchemy import Select, func, select, update
from sqlalchemy.orm import Session

from core import audit, bands, clock, labels, registry
from core.auth import Actor, Permission, require
from core.clock import day_after, day_start
from core.config import get_settings
from core.errors import InvalidInput, NotFound
from core.modeling.features import MODEL_INPUTS
from core.monitoring import cbpe, drift
from core.redaction import PERSONAL_FIELDS, redact
from core.tasks import Task
from db import dialect
from db.dialect import rows_changed
from db.models import (
    Claim,
    ClaimGroundTruth,
    DriftAlert,
    DriftReport,
    Message,
    MessagePrediction,
    ModelVersion,
    Prediction,
    TrainingRun,
)

if TYPE_CHECKING:
    from core.modeling.models import LoadedModel

log = logging.getLogger(__name__)
WINDOWS = {"day": 1, "week": 7}
REFERENCE_SAMPLE = 20_000
TEXT_SAMPLE = 300  # narratives per side for the embedding check (the costly part)
TERMS_SAMPLE = 5_000
# The personal fields are read only to take them out of the narratives whose words a report
# stores (`_narratives`).
CLAIM_COLUMNS = ("id", *MODEL_INPUTS, *PERSONAL_FIELDS)


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


def reference_window(session: Session, version: ModelVersion) -> tuple[date, date]:
    """First and last report date of the claims the champion was trained on."""
    run = session.get(TrainingRun, version.training_run_id) if version.training_run_id else None
    ids = (run.data_manifest or {}).get("train", []) if run else []
    bounds = [
        session.execute(
            select(func.min(Claim.report_date), func.max(Claim.report_date)).where(Claim.id.in_(chunk))
        ).one()
        for chunk in dialect.chunks(ids)
    ]
    firsts, lasts = [b[0] for b in bounds if b[0] is not None], [b[1] for b in bounds if b[1] is not None]
    if firsts:
        return min(firsts), max(lasts)
    if run and run.data_since and run.data_until:
        return run.data_since, run.data_until
    raise InvalidInput(f"{version.task} v{version.version} has no recorded training window to compare with")


def _with_outcomes(query: Select, version_id: int) -> Select:  # type: ignore[type-arg]
    """Add the champion's prediction, the claim's label from decisions and its imported label."""
    decided = labels.latest_decision_labels()
    return (
        query.add_columns(Prediction.probability, Prediction.band, decided.c.label, ClaimGroundTruth.is_fraud)
        .outerjoin(Prediction, (Prediction.claim_id == Claim.id) & (Prediction.model_version_id == version_id))
        .outerjoin(decided, decided.c.claim_id == Claim.id)
        .outerjoin(ClaimGroundTruth, ClaimGroundTruth.claim_id == Claim.id)
    )


OUTCOME_COLUMNS = ("probability", "band", "decision_label", "is_fraud")


def _labelled(frame: pd.DataFrame) -> pd.DataFrame:
    """The outcome by `core.labels`: the claim's label from decisions, else its imported one."""
    frame["label"] = labels.outcome(frame["decision_label"], frame["is_fraud"])
    return frame


def _claims(session: Session, version_id: int, start: date, end: date, limit: int | None = None) -> pd.DataFrame:
    query = _with_outcomes(select(*[getattr(Claim, c) for c in CLAIM_COLUMNS]), version_id).where(
        Claim.report_date.between(start, end)
    )
    if limit is not None:
        total = session.scalar(select(func.count()).where(Claim.report_date.between(start, end))) or 0
        if total > limit:  # an evenly spread, repeatable sample
            query = query.where(Claim.id % (total // limit + 1) == 0)
    frame = pd.DataFrame(session.execute(query).all(), columns=[*CLAIM_COLUMNS, *OUTCOME_COLUMNS])
    return drift.derive_fields(_labelled(frame))


REFERENCE_COLUMNS = ("id", "report_date", *drift.SEGMENT_COLUMNS)


def reference_outcomes(session: Session, version: ModelVersion) -> pd.DataFrame:
    """The champion's training-run test claims (labelled, not learnt from) with their
    segment columns, its probability and their outcome as `_labelled` reads it today:
    CBPE's reference."""
    run = session.get(TrainingRun, version.training_run_id) if version.training_run_id else None
    ids = (run.data_manifest or {}).get("test", []) if run else []
    columns = [getattr(Claim, c) for c in REFERENCE_COLUMNS]
    frames = [
        pd.DataFrame(
            session.execute(_with_outcomes(select(*columns), version.id).where(Claim.id.in_(chunk))).all(),
            columns=[*REFERENCE_COLUMNS, *OUTCOME_COLUMNS],
        )
        for chunk in dialect.chunks(ids)
    ]
    if not frames:
        return pd.DataFrame(columns=[*REFERENCE_COLUMNS, *OUTCOME_COLUMNS, "label"])
    return _labelled(pd.concat(frames, ignore_index=True)).dropna(subset=["probability", "label"])


def reference_calibration(session: Session, version: ModelVersion) -> cbpe.Calibration:
    """CBPE's calibration for the champion: isotonic on `reference_outcomes`."""
    return _calibration(reference_outcomes(session, version), version)


def _calibration(outcomes: pd.DataFrame, version: ModelVersion) -> cbpe.Calibration:
    if outcomes.empty:
        return cbpe.IDENTITY
    return cbpe.fit_calibration(
        outcomes["probability"].to_numpy(float),
        outcomes["label"].to_numpy(bool),
        source=f"isotonic on the {len(outcomes):,} test claims of training run {version.training_run_id}",
    )


def performance_baseline(
    session: Session, version: ModelVersion, t: drift.DriftThresholds
) -> drift.PerformanceBaseline:
    """CBPE's calibration on the champion's test claims and, for all of them and each
    segment, the estimate on them under that calibration: what a window's is compared with."""
    outcomes = reference_outcomes(session, version)
    return drift.performance_baseline(outcomes, _calibration(outcomes, version), t)


def window_claims(session: Session, *, version: ModelVersion, start: date, end: date) -> pd.DataFrame:
    """A window's claims as a report reads them: model inputs, the champion's probability
    and band, the latest decision, the imported label and the outcome `label`."""
    return _claims(session, version.id, start, end)


def _sentiments(session: Session, start: date, end: date) -> pd.Series:
    champion = registry.champion(session, Task.SENTIMENT)
    if champion is None:
        return pd.Series(dtype=str)
    rows = session.scalars(
        select(MessagePrediction.label)
        .join(Message, Message.id == MessagePrediction.message_id)
        .where(
            MessagePrediction.model_version_id == champion.id,
            Message.direction == "inbound",
            Message.sent_at >= day_start(start),
            Message.sent_at < day_after(end),
        )
    )
    return pd.Series(list(rows), dtype=str)


def _segments(
    reference: pd.DataFrame, current: pd.DataFrame, min_rows: int
) -> list[tuple[str, pd.DataFrame, pd.DataFrame]]:
    segments = [("all", reference, current)]
    for column in drift.SEGMENT_COLUMNS:
        for value in sorted(set(current[column])):
            ref, cur = reference[reference[column] == value], current[current[column] == value]
            if min(len(ref), len(cur)) >= min_rows:
                segments.append((f"{column}={value}", ref, cur))
    return segments


class _Embedder:
    """Loads the champion once per drift run and embeds narrative samples."""

    def __init__(self, version: ModelVersion) -> None:
        self.version = version
        self._loaded: LoadedModel | None = None

    def __call__(self, texts: list[str]) -> np.ndarray:
        from core.modeling.inference import text_embeddings
        from core.serving import load_version

        if self._loaded is None:
            self._loaded = load_version(self.version, get_settings().resolved_device())
        return text_embeddings(self._loaded, texts)


def _sample(values: pd.Series, n: int, seed: int) -> list[str]:
    return values.sample(min(n, len(values)), random_state=seed).fillna("").astype(str).tolist()


def _narratives(frame: pd.DataFrame, n: int, seed: int) -> list[str]:
    """A sample of narratives without personal data (`core.redaction.redact`, with each
    claim's own name and contact): the changed words a report stores are shown to every
    role that sees monitoring, and a claimant's name repeated in three narratives is a word."""
    rows = frame.sample(min(n, len(frame)), random_state=seed)[["narrative", *PERSONAL_FIELDS]].fillna("").astype(str)
    return [redact(text, personal=personal) for text, *personal in rows.itertuples(index=False)]


def compute_window(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    reference_sentiment: pd.Series,
    current_sentiment: pd.Series,
    version: ModelVersion,
    embed: Any,
    reference_embeddings: np.ndarray | None,
    t: drift.DriftThresholds,
    baseline: drift.PerformanceBaseline = drift.NO_BASELINE,
) -> tuple[list[drift.Metric], list[dict[str, Any]]]:
    """Every metric of one window against the reference, with verdicts; the estimated
    ROC-AUC against `baseline` (without one, it has no verdict)."""
    metrics: list[drift.Metric] = []
    threshold = bands.flag_threshold(bands.stored(version.parameters))
    for segment, ref, cur in _segments(reference, current, t.min_rows):
        metrics += drift.field_metrics(ref, cur, segment, t)
        metrics += drift.prediction_metrics(ref, cur, segment, t)
        metrics += drift.performance_metric(cur, baseline, threshold, segment, t)
    if reference_embeddings is not None and len(current) >= t.min_rows:
        metrics += drift.text_metric(reference_embeddings, embed(_sample(current["narrative"], TEXT_SAMPLE, 1)), t)
    metrics += drift.sentiment_metric(reference_sentiment, current_sentiment, t)
    terms = drift.changed_terms(_narratives(reference, TERMS_SAMPLE, 2), _narratives(current, TERMS_SAMPLE, 3))
    metrics += drift.term_metric(terms, t)
    return drift.decide(metrics, t), terms


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
    reference = _claims(session, version.id, ref_start, ref_end, REFERENCE_SAMPLE)
    reference_sentiment = _sentiments(session, ref_start, ref_end)
    embed = _Embedder(version)
    reference_embeddings = embed(_sample(reference["narrative"], 2 * TEXT_SAMPLE, 0))
    baseline = performance_baseline(session, version, t)
    computed = []
    for start in todo:
        end = start + timedelta(days=WINDOWS[window] - 1)
        current = _claims(session, version.id, start, end)
        if current.empty:
            continue
        sentiment = _sentiments(session, start, end)
        metrics, terms = compute_window(
            reference, current, reference_sentiment, sentiment, version, embed, reference_embeddings, t, baseline
        )
        computed.append((start, end, len(current), metrics, terms))
    # All windows are computed before the first write: on SQLite a write takes the
    # database's one write lock, which the app's users must not wait behind.
    for start, end, claims, metrics, terms in computed:
        result.reports.append(
            _store(session, version, window, start, end, ref_start, ref_end, claims, metrics, terms, t)
        )
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


def window_starts(first: date, last: date, window: str) -> list[date]:
    """Complete windows only, none overlapping the reference: calendar weeks (Monday
    first) from the first Monday after it, ending on or before the newest report date. A
    window still filling up is reported once it is complete, never frozen half-full."""
    if window == "week":
        first = first + timedelta(days=(7 - first.weekday()) % 7)
    step = timedelta(days=WINDOWS[window])
    starts, start = [], first
    while start + step - timedelta(days=1) <= last:
        starts.append(start)
        start += step
    return starts


def _store(
    session: Session,
    version: ModelVersion,
    window: str,
    start: date,
    end: date,
    ref_start: date,
    ref_end: date,
    claims: int,
    metrics: list[drift.Metric],
    terms: list[dict[str, Any]],
    t: drift.DriftThresholds,
) -> ReportSummary:
    drifting = alerting(metrics)
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


def alerting(metrics: list[drift.Metric]) -> list[drift.Metric]:
    """The drifting metrics that raise an alert: one per signal (family and metric) and
    segment, the most severe where a window's metrics name the same one twice."""
    chosen: dict[tuple[str, str, str], drift.Metric] = {}
    for metric in metrics:
        key = (metric.family, metric.name, metric.segment)
        if metric.drift and (key not in chosen or metric.severity > chosen[key].severity):
            chosen[key] = metric
    return list(chosen.values())


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
