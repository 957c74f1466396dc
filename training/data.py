"""Training data: labelled claims and messages from the database, split by time.

Claim labels: an adjuster's latest decision wins (deny = fraud, approve = not fraud;
SIU referrals and information requests are not outcomes); otherwise the ground truth
that came with the claim (generator or import). Production sees the future only after
the past, so the split is by report date: oldest for training, then validation, then test.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from core import claim_store, labels
from core.errors import InvalidInput
from core.run_spec import TrainingConfig
from core.schema import active_schema
from db.models import Claim, ClaimGroundTruth, Message
from training.splits import Splits, time_split


def labelled_claims(session: Session, config: TrainingConfig) -> pd.DataFrame:
    columns = claim_store.columns(dict.fromkeys((*active_schema().model_inputs, "report_date")))
    query = (
        select(Claim.id.label("claim_id"), *columns, ClaimGroundTruth.is_fraud, ClaimGroundTruth.oracle_probability)
        .outerjoin(ClaimGroundTruth, ClaimGroundTruth.claim_id == Claim.id)
        .order_by(Claim.report_date, Claim.id)
    )
    frame = pd.DataFrame(session.execute(_in_window(query, config)).mappings().all())
    if frame.empty:
        raise InvalidInput("no claims in the chosen data window")
    decided = frame["claim_id"].map(labels.decision_labels(session))
    frame["label_source"] = np.where(decided.notna(), "decision", "ground_truth")
    frame["label"] = labels.outcome(decided, frame["is_fraud"])
    frame = frame[frame["label"].notna()].reset_index(drop=True)
    frame["label"] = frame["label"].astype(int)
    return frame


def _in_window(query: Select[*tuple[Any, ...]], config: TrainingConfig) -> Select[*tuple[Any, ...]]:
    """The run's data window, by the claim's report date (messages follow their claim)."""
    if config.since:
        query = query.where(Claim.report_date >= config.since)
    if config.until:
        query = query.where(Claim.report_date <= config.until)
    return query


def labelled_messages(session: Session, config: TrainingConfig) -> pd.DataFrame:
    query = (
        select(Message.id.label("message_id"), Message.text, Message.true_sentiment, Message.sent_at)
        .join(Claim, Claim.id == Message.claim_id)
        .where(Message.true_sentiment.is_not(None), Message.direction == "inbound")
        .order_by(Message.sent_at, Message.id)
    )
    frame = pd.DataFrame(session.execute(_in_window(query, config)).mappings().all())
    if frame.empty:
        raise InvalidInput("no labelled messages in the chosen data window")
    return frame


__all__ = ["Splits", "labelled_claims", "labelled_messages", "time_split"]
