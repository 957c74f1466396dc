"""A claim's fraud label: the one rule that training, realized performance and anything
later read outcomes by.

A decision says something about fraud (`DECISION_LABELS`): a denial is fraud, an approval
is not; a referral to SIU is a suspicion, not a finding, and asking for information says
nothing, so neither is a label (SIU's outcome is a denial or an approval, labelled as
such). A claim's label is its *latest labelling decision* (by decision time, then by id
for two in the same instant), else the label it was imported with
(`claim_ground_truth.is_fraud`), else none.
"""

from __future__ import annotations

import pandas as pd
from sqlalchemy import Subquery, case, func, select
from sqlalchemy.orm import Session

from db.models import Review

DECISION_LABELS = {"deny": 1, "approve": 0}
IMPORTED_LABELS = {True: 1.0, False: 0.0}


def latest_decision_labels() -> Subquery:
    """(claim_id, label) of each decided claim's latest labelling decision, to join on."""
    label = case(*((Review.decision == d, v) for d, v in DECISION_LABELS.items()))
    order = (Review.decided_at.desc(), Review.id.desc())
    ranked = (
        select(
            Review.claim_id,
            label.label("label"),
            func.row_number().over(partition_by=Review.claim_id, order_by=order).label("rank"),
        )
        .where(Review.decision.in_(DECISION_LABELS))
        .subquery()
    )
    return select(ranked.c.claim_id, ranked.c.label).where(ranked.c.rank == 1).subquery("decision_labels")


def decision_labels(session: Session) -> dict[int, int]:
    """Claim id → its label from decisions, for every claim that has one."""
    labels = latest_decision_labels()
    return {int(claim_id): int(label) for claim_id, label in session.execute(select(labels.c.claim_id, labels.c.label))}


def outcome(decision_label: pd.Series, is_fraud: pd.Series) -> pd.Series:
    """The label: the decision's where there is one, else the imported one; NaN when neither."""
    imported = is_fraud.map(IMPORTED_LABELS).astype(float)  # 1 and 0 hash as True and False
    return decision_label.astype(float).fillna(imported)
