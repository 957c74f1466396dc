"""Claim review and decisions: stored data shown as stored, PII masking, the version
guard that stops two adjusters overwriting each other, and the audit trail."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from core import review, triage
from core.auth import Actor
from core.errors import InvalidInput, PermissionDenied
from db.models import AuditLog, Claim, Explanation, Prediction, Review
from db.session import session_scope
from tests.conftest import run_at_once
from tests.core.test_triage import actor, take_and_decide


def explained_claim() -> int:
    with session_scope() as session:
        return session.scalar(
            select(Prediction.claim_id).join(Explanation, Explanation.prediction_id == Prediction.id).limit(1)
        )


def detail(who: Actor, claim_id: int) -> review.ClaimDetail:
    with session_scope() as session:
        return review.claim_detail(session, actor=who, claim_id=claim_id)


def test_claim_detail_shows_the_stored_prediction_explanation_and_messages(scored_database: str) -> None:
    claim_id = explained_claim()
    shown = detail(actor("adjuster"), claim_id)
    with session_scope() as session:
        prediction = session.scalars(select(Prediction).where(Prediction.claim_id == claim_id)).one()
        stored = session.scalars(select(Explanation).where(Explanation.prediction_id == prediction.id)).one()
        messages = session.scalar(
            select(func.count()).select_from(Claim).join(Claim.messages).where(Claim.id == claim_id)
        )
    assert shown.prediction is not None and shown.prediction.probability == prediction.probability
    assert shown.prediction.explanation is not None
    assert shown.prediction.explanation.reasons == stored.reasons
    assert shown.prediction.explanation.base_value + sum(shown.prediction.explanation.fields.values()) + sum(
        v for _, v in shown.prediction.explanation.words
    ) == pytest.approx(prediction.probability, abs=1e-3)
    assert len(shown.messages) == messages and all(
        m.sentiment in {"negative", "neutral", "positive"} for m in shown.messages
    )
    assert [h.id for h in shown.history] == [prediction.id]


def test_managers_see_claims_with_claimant_name_and_contact_masked(scored_database: str) -> None:
    claim_id = explained_claim()
    assert detail(actor("adjuster"), claim_id).fields["claimant_name"] != review.MASK
    masked = detail(actor("manager"), claim_id).fields
    assert masked["claimant_name"] == masked["claimant_contact"] == review.MASK


def test_viewing_a_claim_is_audited(scored_database: str) -> None:
    claim_id = explained_claim()
    detail(actor("compliance"), claim_id)
    with session_scope() as session:
        row = session.scalars(select(AuditLog).where(AuditLog.action == "claim.viewed")).one()
    assert (row.actor, row.entity_id) == ("cora", str(claim_id))


def test_a_decision_closes_the_claim_links_the_prediction_and_is_audited(scored_database: str) -> None:
    adjuster = actor("adjuster")
    assignment = take_and_decide(adjuster, "deny", "staged_incident", note="Photos predate the policy.")
    shown = detail(adjuster, assignment.claim_id)
    assert shown.status == "decided" and shown.version == assignment.version + 1
    [decision] = shown.decisions
    assert (decision.decision, decision.reason_code, decision.decided_by) == ("deny", "staged_incident", "ada")
    assert decision.prediction is not None and decision.prediction.id == shown.prediction.id
    with session_scope() as session:
        entry = session.scalars(select(AuditLog).where(AuditLog.action == "claim.decided")).one()
    assert entry.details["before"]["status"] == "in_review" and entry.details["after"]["status"] == "decided"


def test_request_information_keeps_the_claim_open_with_its_adjuster(scored_database: str) -> None:
    adjuster = actor("adjuster")
    assignment = take_and_decide(adjuster, "request_info", "missing_documents")
    shown = detail(adjuster, assignment.claim_id)
    assert shown.status == "in_review" and shown.assigned_to == "ada"


def test_a_stale_decision_is_refused_and_writes_nothing(scored_database: str) -> None:
    first, second = actor("adjuster"), actor("adjuster2")
    claim_id = explained_claim()
    version = detail(first, claim_id).version
    with session_scope() as session:
        review.decide(
            session,
            actor=first,
            claim_id=claim_id,
            expected_version=version,
            decision="approve",
            reason_code="covered_loss",
        )
    with session_scope() as session, pytest.raises(review.DecisionConflict, match=r"already decided|changed"):
        review.decide(
            session,
            actor=second,
            claim_id=claim_id,
            expected_version=version,
            decision="deny",
            reason_code="not_covered",
        )
    with session_scope() as session:
        assert session.scalar(select(func.count()).select_from(Review).where(Review.claim_id == claim_id)) == 1


def test_twenty_adjusters_deciding_one_claim_at_once_land_exactly_one_decision(scored_database: str) -> None:
    claim_id = explained_claim()
    version = detail(actor("adjuster"), claim_id).version
    adjusters = [actor("adjuster"), actor("adjuster2")]

    def decide(i: int) -> None:
        with session_scope() as session:
            review.decide(
                session,
                actor=adjusters[i % 2],
                claim_id=claim_id,
                expected_version=version,
                decision="deny",
                reason_code="not_covered",
                note=f"attempt {i}",
            )

    landed, errors = run_at_once(decide, 20)
    outcomes = ["landed"] * len(landed) + [
        "conflict" if isinstance(e, review.DecisionConflict) else f"error: {e!r}" for e in errors
    ]
    assert sorted(outcomes) == ["conflict"] * 19 + ["landed"], outcomes
    with session_scope() as session:
        assert session.scalar(select(func.count()).select_from(Review).where(Review.claim_id == claim_id)) == 1
        assert session.scalar(select(func.count()).select_from(AuditLog).where(AuditLog.action == "claim.decided")) == 1


@pytest.mark.parametrize(
    ("decision", "reason", "note", "message"),
    [
        ("pay", "covered_loss", None, "unknown decision"),
        ("deny", "covered_loss", None, "pick a reason code"),
        ("deny", "not_covered", "x" * 5000, "limited"),
    ],
)
def test_bad_decisions_are_clear_errors(
    scored_database: str, decision: str, reason: str, note: str | None, message: str
) -> None:
    claim_id = explained_claim()
    with session_scope() as session, pytest.raises(InvalidInput, match=message):
        review.decide(
            session,
            actor=actor("adjuster"),
            claim_id=claim_id,
            expected_version=1,
            decision=decision,
            reason_code=reason,
            note=note,
        )


def test_only_reviewers_decide(scored_database: str) -> None:
    for key in ("compliance", "manager"):
        with session_scope() as session, pytest.raises(PermissionDenied):
            review.decide(
                session,
                actor=actor(key),
                claim_id=explained_claim(),
                expected_version=1,
                decision="approve",
                reason_code="covered_loss",
            )


def test_decided_claims_lists_decisions_with_their_prediction(scored_database: str) -> None:
    adjuster = actor("adjuster")
    claim_id = explained_claim()
    with session_scope() as session:
        review.decide(
            session,
            actor=adjuster,
            claim_id=claim_id,
            expected_version=detail(adjuster, claim_id).version,
            decision="refer_siu",
            reason_code="ring_pattern",
        )
    with session_scope() as session:
        [row] = review.decided_claims(session, actor=actor("compliance"))
    assert (row.claim_id, row.decision, row.decided_by) == (claim_id, "refer_siu", "ada") and row.band is not None


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    note=st.text(max_size=300)
    | st.sampled_from(
        ["<script>alert(1)</script>", "'; DROP TABLE reviews; --", "\x00\x07\x1b[31m", "x" * 4000, "x" * 4001]
    )
)
def test_any_note_is_stored_as_cleaned_text_or_refused_without_a_write(scored_database: str, note: str) -> None:
    adjuster = actor("adjuster")
    with session_scope() as session:
        assignment = triage.take_next(session, actor=adjuster)
    assert assignment is not None
    try:
        with session_scope() as session:
            decided = review.decide(
                session,
                actor=adjuster,
                claim_id=assignment.claim_id,
                expected_version=assignment.version,
                decision="approve",
                reason_code="covered_loss",
                note=note,
            )
    except InvalidInput as error:
        assert "limited" in str(error) and len(note) > review.MAX_NOTE_LENGTH
        with session_scope() as session:
            assert (
                session.scalar(select(func.count()).select_from(Review).where(Review.claim_id == assignment.claim_id))
                == 0
            )
        return
    with session_scope() as session:  # what the database holds, not the object in memory
        stored = session.scalar(select(Review.note).where(Review.id == decided.id))
    # Printable text (and line breaks, tabs) kept in order, control characters dropped, trimmed.
    assert stored == ("".join(ch for ch in note if ch in "\n\t" or ch.isprintable()).strip() or None)
