"""The managers' monitoring overview, aggregated in SQL (per day) and rolled up to weeks
here, so the page never pulls individual predictions: claim volume, the champion's score
distribution and band mix over time, decisions against predicted bands, and the share of
each sentiment in claimants' messages.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import pandas as pd
from sqlalchemy import Integer, cast, func, literal, select
from sqlalchemy.orm import Session

from core import claim_fields, claim_store, registry
from core.auth import Actor, Permission, require
from core.clock import day_after, day_start
from core.schema import active_schema
from core.tasks import Task
from db import dialect
from db.models import Claim, Message, MessagePrediction, Prediction, Review

SCORE_BINS = 20  # probability histogram bins of width 0.05


@dataclass(frozen=True)
class MonitoringOverview:
    volume: pd.DataFrame  # week, segment (the schema's first segment's value, or "all"), claims
    segment_label: str  # what the segment is ("Line of business"), "" for a schema without segments
    scores: pd.DataFrame  # week, bin_start, predictions
    bands: pd.DataFrame  # week, band, predictions
    outcomes: pd.DataFrame  # band, decision, claims (latest decision per claim)
    sentiment: pd.DataFrame  # week, sentiment, messages, share
    champion_version: int | None

    @property
    def total_claims(self) -> int:
        return int(self.volume["claims"].sum()) if len(self.volume) else 0

    @property
    def total_decisions(self) -> int:
        """Claims with a decision (each claim's latest one) in the window."""
        return int(self.outcomes["claims"].sum()) if len(self.outcomes) else 0


def _week(days: pd.Series) -> pd.Series:
    stamps = pd.to_datetime(days)
    return (stamps - pd.to_timedelta(stamps.dt.day_of_week, unit="D")).dt.date


def _weekly(rows: Sequence[Any], columns: list[str], keys: list[str], value: str) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=["day", *columns])
    if frame.empty:
        return pd.DataFrame(columns=["week", *columns])
    frame["week"] = _week(frame["day"])
    return frame.groupby(["week", *keys], as_index=False)[value].sum().sort_values(["week", *keys])


def overview(
    session: Session, *, actor: Actor, since: date | None = None, until: date | None = None
) -> MonitoringOverview:
    require(actor, Permission.VIEW_MONITORING)
    window = []
    if since:
        window.append(Claim.report_date >= since)
    if until:
        window.append(Claim.report_date <= until)
    segments = active_schema().segments
    segment = claim_store.column(segments[0]) if segments else literal("all").label("segment")
    volume = session.execute(
        select(Claim.report_date, segment, func.count()).where(*window).group_by(Claim.report_date, segment)
    ).all()
    champion = registry.champion(session, Task.CLAIM_RISK)
    scored = (
        select(Claim.report_date)
        .join(Prediction, Prediction.claim_id == Claim.id)
        .where(Prediction.model_version_id == dialect.id_or_none(champion), *window)
    )
    scaled = Prediction.probability * SCORE_BINS
    # CAST truncates on SQLite but rounds on PostgreSQL; bins must be floors on both.
    score_bin = cast(func.floor(scaled) if dialect.is_postgres(session) else scaled, Integer)
    scores = session.execute(scored.add_columns(score_bin, func.count()).group_by(Claim.report_date, score_bin)).all()
    bands = session.execute(
        scored.add_columns(Prediction.band, func.count()).group_by(Claim.report_date, Prediction.band)
    ).all()
    score_frame = _weekly(scores, ["bin", "predictions"], ["bin"], "predictions")
    score_frame["bin_start"] = score_frame["bin"].clip(upper=SCORE_BINS - 1).astype(float) / SCORE_BINS
    return MonitoringOverview(
        volume=_weekly(volume, ["segment", "claims"], ["segment"], "claims"),
        segment_label=claim_fields.label(segments[0]) if segments else "",
        scores=score_frame.groupby(["week", "bin_start"], as_index=False)["predictions"].sum(),
        bands=_weekly(bands, ["band", "predictions"], ["band"], "predictions"),
        outcomes=_outcomes(session, window),
        sentiment=_sentiment(session, since, until),
        champion_version=champion.version if champion else None,
    )


def _outcomes(session: Session, window: list) -> pd.DataFrame:  # type: ignore[type-arg]
    latest = select(Review.claim_id, func.max(Review.id).label("review_id")).group_by(Review.claim_id).subquery()
    rows = session.execute(
        select(Prediction.band, Review.decision, func.count())
        .join(latest, latest.c.review_id == Review.id)
        .join(Prediction, Prediction.id == Review.prediction_id)
        .join(Claim, Claim.id == Review.claim_id)
        .where(*window)
        .group_by(Prediction.band, Review.decision)
    ).all()
    return pd.DataFrame(rows, columns=["band", "decision", "claims"])


def _sentiment(session: Session, since: date | None, until: date | None) -> pd.DataFrame:
    """Messages per week and label, over the days of the window (as claims are)."""
    champion = registry.champion(session, Task.SENTIMENT)
    day = func.date(Message.sent_at)
    window = []
    if since:
        window.append(Message.sent_at >= day_start(since))
    if until:
        window.append(Message.sent_at < day_after(until))
    query = (
        select(day, MessagePrediction.label, func.count())
        .join(MessagePrediction, MessagePrediction.message_id == Message.id)
        .where(MessagePrediction.model_version_id == dialect.id_or_none(champion), *window)
        .group_by(day, MessagePrediction.label)
    )
    frame = _weekly(session.execute(query).all(), ["sentiment", "messages"], ["sentiment"], "messages")
    totals = frame.groupby("week")["messages"].transform("sum")
    return frame.assign(share=frame["messages"] / totals.where(totals > 0, 1))
