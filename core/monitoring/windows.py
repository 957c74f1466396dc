"""What a drift report compares: the champion's reference (the report-date range of the
claims it was trained on, and its training run's test claims for the performance
estimate) and a window's claims, each with the champion's probability and the claim's
outcome (`core.labels`); the windows after the reference that a report covers.

Samples are bounded (`REFERENCE_SAMPLE`) so a report costs the same at a million claims as
at ten thousand.
"""

from __future__ import annotations

from datetime import date, timedelta

import pandas as pd
from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from core import claim_store, labels, registry
from core.clock import day_after, day_start
from core.errors import InvalidInput
from core.monitoring import cbpe, drift
from core.schema import active_schema
from core.tasks import Task
from db import dialect
from db.models import (
    Claim,
    ClaimGroundTruth,
    Message,
    MessagePrediction,
    ModelVersion,
    Prediction,
    TrainingRun,
)

WINDOWS = {"day": 1, "week": 7}


REFERENCE_SAMPLE = 20_000


# The personal fields are read only to take them out of the narratives whose words a report
# stores (`narratives`).
def claim_columns() -> tuple[str, ...]:
    """What a window reads of each claim: the model's inputs, the segments, the personal data."""
    schema = active_schema()
    return tuple(dict.fromkeys(("id", *schema.model_inputs, *schema.segments, *schema.pii)))


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


def claims_between(session: Session, version_id: int, start: date, end: date, limit: int | None = None) -> pd.DataFrame:
    names = claim_columns()
    query = _with_outcomes(select(*claim_store.columns(names)), version_id).where(Claim.report_date.between(start, end))
    if limit is not None:
        total = session.scalar(select(func.count()).where(Claim.report_date.between(start, end))) or 0
        if total > limit:  # an evenly spread, repeatable sample
            query = query.where(Claim.id % (total // limit + 1) == 0)
    frame = pd.DataFrame(session.execute(query).all(), columns=[*names, *OUTCOME_COLUMNS])
    return drift.derive_fields(_labelled(frame))


def reference_outcomes(session: Session, version: ModelVersion) -> pd.DataFrame:
    """The champion's training-run test claims (labelled, not learnt from) with their
    segment columns, its probability and their outcome as `_labelled` reads it today:
    CBPE's reference."""
    run = session.get(TrainingRun, version.training_run_id) if version.training_run_id else None
    ids = (run.data_manifest or {}).get("test", []) if run else []
    names = ("id", "report_date", *drift.segment_columns())
    columns = claim_store.columns(names)
    frames = [
        pd.DataFrame(
            session.execute(_with_outcomes(select(*columns), version.id).where(Claim.id.in_(chunk))).all(),
            columns=[*names, *OUTCOME_COLUMNS],
        )
        for chunk in dialect.chunks(ids)
    ]
    if not frames:
        return pd.DataFrame(columns=[*names, *OUTCOME_COLUMNS, "label"])
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
    return claims_between(session, version.id, start, end)


def sentiments_between(session: Session, start: date, end: date) -> pd.Series:
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
