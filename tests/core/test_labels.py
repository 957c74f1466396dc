"""A claim's label from its decisions: training and realized performance read the same one."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from core import labels
from core.auth import cli_actor
from core.data.generator import GeneratorConfig
from core.data.seeding import seed
from db.models import Claim, Review, User

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


def test_the_latest_labelling_decision_is_the_label_and_other_decisions_say_nothing(session: Session) -> None:
    with session.begin():
        seed(session, actor=cli_actor(), config=GeneratorConfig(claims=4, seed=8))
        user = User(username="ada", role="adjuster", is_active=True, failed_logins=0)
        session.add(user)
        session.flush()
        a, b, c, d = session.scalars(select(Claim.id).order_by(Claim.id)).all()
        decisions = [
            (a, "deny", T0), (a, "request_info", T0 + timedelta(hours=1)),  # asking later takes nothing back
            (b, "refer_siu", T0), (b, "approve", T0 + timedelta(days=3)),  # SIU cleared it
            (c, "approve", T0 + timedelta(hours=2)), (c, "deny", T0 + timedelta(hours=1)),  # by time, not by id
            (d, "refer_siu", T0),  # a suspicion only
        ]  # fmt: skip
        for claim_id, decision, at in decisions:
            session.add(
                Review(
                    claim_id=claim_id,
                    user_id=user.id,
                    decision=decision,
                    reason_code="x",
                    decided_at=at,
                    claim_version=1,
                )
            )
    with session.begin():
        assert labels.decision_labels(session) == {a: 1, b: 0, c: 0}


def test_a_decision_outranks_the_imported_label_which_is_used_otherwise() -> None:
    decided = pd.Series([1.0, None, None, 0.0])
    imported = pd.Series([False, True, None, True])
    assert labels.outcome(decided, imported).tolist()[:2] == [1.0, 1.0]
    assert pd.isna(labels.outcome(decided, imported)[2]) and labels.outcome(decided, imported)[3] == 0.0
