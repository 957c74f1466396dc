"""The managers' overview: weekly aggregates that add up to what is stored."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from sqlalchemy import func, select

from core import registry
from core.errors import PermissionDenied
from core.monitoring.overview import overview
from core.tasks import Task
from db.models import Claim, Message, MessagePrediction, Prediction
from db.session import session_scope
from tests.core.test_triage import actor, take_and_decide


def test_overview_counts_match_the_stored_claims_predictions_and_messages(scored_database: str) -> None:
    decided = take_and_decide(actor("adjuster"), "deny", "staged_incident")
    with session_scope() as session:
        result = overview(session, actor=actor("manager"))
        champion = registry.champion(session, Task.CLAIM_RISK)
        band = session.scalar(
            select(Prediction.band).where(
                Prediction.claim_id == decided.claim_id, Prediction.model_version_id == champion.id
            )
        )
        claims = session.scalar(select(func.count()).select_from(Claim))
        predictions = session.scalar(
            select(func.count()).select_from(Prediction).where(Prediction.model_version_id == champion.id)
        )
        messages = session.scalar(select(func.count()).select_from(MessagePrediction))
    assert result.total_claims == claims == 300
    assert result.scores["predictions"].sum() == result.bands["predictions"].sum() == predictions
    assert set(result.bands["band"]) <= {"high", "medium", "low"}
    assert result.scores["bin_start"].between(0, 0.95).all()
    assert band in ("high", "medium")  # take_next hands out flagged claims only
    assert result.outcomes.to_dict("records") == [{"band": band, "decision": "deny", "claims": 1}]
    assert result.total_decisions == 1
    assert result.sentiment["messages"].sum() == messages
    assert result.sentiment.groupby("week")["share"].sum().round(6).eq(1).all()
    assert all(week.weekday() == 0 for week in result.volume["week"])


def test_overview_respects_the_date_window(scored_database: str) -> None:
    with session_scope() as session:
        march = overview(session, actor=actor("manager"), since=date(2026, 3, 1), until=date(2026, 3, 31))
        expected = session.scalar(
            select(func.count())
            .select_from(Claim)
            .where(Claim.report_date.between(date(2026, 3, 1), date(2026, 3, 31)))
        )
        messages = session.scalar(
            select(func.count())
            .select_from(MessagePrediction)
            .join(Message, Message.id == MessagePrediction.message_id)
            .where(
                Message.sent_at >= datetime(2026, 3, 1, tzinfo=UTC), Message.sent_at < datetime(2026, 4, 1, tzinfo=UTC)
            )
        )
    assert march.total_claims == expected > 0
    assert march.total_decisions == 0
    assert march.sentiment["messages"].sum() == messages > 0  # the days of the window, not whole weeks


def test_adjusters_do_not_see_monitoring(scored_database: str) -> None:
    with session_scope() as session, pytest.raises(PermissionDenied):
        overview(session, actor=actor("adjuster"))
