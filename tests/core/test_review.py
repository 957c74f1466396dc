"""Claim review and decisions: stored data shown as stored, PII masking, the version
guard that stops two adjusters overwriting each other, and the audit trail."""

from __future__ import annotations

import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from core import claim_fields, labels, review, triage
from core.auth import Actor
from core.errors import InvalidInput, PermissionDenied
from db.models import AuditLog, Claim, ClaimComment, Explanation, Message, Prediction, Review
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


def test_roles_without_personal_data_get_it_out_of_narrative_messages_and_explanation(scored_database: str) -> None:
    claim_id = explained_claim()
    with session_scope() as session:
        claim = session.get(Claim, claim_id)
        assert claim is not None
        name = claim.fields["claimant_name"]
        surname = name.split()[-1]
        narrative = f"Caller {name} (tel +48 601 234 567, DOB 12/03/1980) says the car was hit."
        claim.fields = {**claim.fields, "narrative": narrative}
        session.add(Message(claim_id=claim_id, sent_at=claim.created_at, channel="email", direction="inbound",
                            text=f"Write to me at {surname.lower()}.home@example.com please"))  # fmt: skip
        explanation = session.scalars(
            select(Explanation).join(Prediction).where(Prediction.claim_id == claim_id)
        ).first()
        assert explanation is not None
        explanation.attributions = {**explanation.attributions, "words": [[surname, 0.2], ["hit", 0.1]]}
        explanation.reasons = [f'narrative: "{surname}" raises the risk', *explanation.reasons[1:]]
    seen_by = {role: detail(actor(role), claim_id) for role in ("adjuster", "manager")}
    adjuster, manager = seen_by["adjuster"], seen_by["manager"]
    assert name in adjuster.narrative and "+48 601 234 567" in adjuster.narrative
    shown = " ".join([manager.narrative, *(m.text for m in manager.messages)])
    for personal in (name, surname, "+48 601 234 567", "12/03/1980", "home@example.com"):
        assert personal.lower() not in shown.lower(), personal
    assert "says the car was hit" in manager.narrative
    explanation_shown = manager.prediction.explanation  # type: ignore[union-attr]
    assert explanation_shown is not None and [w for w, _ in explanation_shown.words] == [review.MASK, "hit"]
    assert surname not in explanation_shown.reasons[0]
    with session_scope() as session:
        found = triage.queue(session, actor=actor("manager"), filters=triage.QueueFilters(bands=(), search=surname))
        assert claim_id not in [r.claim_id for r in found.rows]  # not found by the claimant's own name
        assert claim_id in [
            r.claim_id for r in triage.queue(session, actor=actor("adjuster"), filters=triage.QueueFilters(
                bands=(), search=surname)).rows
        ]  # fmt: skip
        with pytest.raises(InvalidInput, match=r"needs claims\.view_pii"):
            triage.queue(session, actor=actor("manager"), filters=triage.QueueFilters(search="a@example.com"))


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
        ("deny", "not_covered", "x" * (review.MAX_NOTE_LENGTH + 1), "limited"),
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
        [
            "<script>alert(1)</script>",
            "'; DROP TABLE reviews; --",
            "\x00\x07\x1b[31m",
            "x" * review.MAX_NOTE_LENGTH,
            "x" * (review.MAX_NOTE_LENGTH + 1),
        ]
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


def decide_now(who: Actor, claim_id: int, decision: str, reason_code: str, note: str | None = None) -> Review:
    with session_scope() as session:
        return review.decide(
            session,
            actor=who,
            claim_id=claim_id,
            expected_version=detail(who, claim_id).version,
            decision=decision,
            reason_code=reason_code,
            note=note,
        )


def fraud_labels() -> dict[int, int]:
    """The labels training and monitoring read from decisions (`core.labels`)."""
    with session_scope() as session:
        return labels.decision_labels(session)


@pytest.mark.parametrize(
    ("outcome", "reason_code", "label"), [("deny", "siu_confirmed_fraud", 1), ("approve", "siu_cleared", 0)]
)
def test_a_referral_stays_open_in_siu_review_until_sius_outcome_which_is_the_label(
    scored_database: str, outcome: str, reason_code: str, label: int
) -> None:
    adjuster, siu_reviewer = actor("adjuster"), actor("adjuster2")
    assignment = take_and_decide(adjuster, "refer_siu", "fraud_indicators")
    referred = detail(siu_reviewer, assignment.claim_id)
    assert (referred.status, referred.assigned_to) == ("siu_review", None)
    assert review.decision_choices(referred.status) == review.SIU_OUTCOMES
    assert assignment.claim_id not in fraud_labels(), "a referral is a suspicion, not a label"
    with pytest.raises(InvalidInput, match="pick a reason code for approve: siu_cleared"):
        decide_now(siu_reviewer, assignment.claim_id, "approve", "covered_loss")
    with pytest.raises(InvalidInput, match="waiting for SIU's outcome"):
        decide_now(siu_reviewer, assignment.claim_id, "request_info", "missing_documents")
    decide_now(siu_reviewer, assignment.claim_id, outcome, reason_code, note="SIU file 17 closed.")
    closed = detail(siu_reviewer, assignment.claim_id)
    assert closed.status == "decided" and closed.assigned_to == "abe"
    assert [(d.decision, d.reason_code, d.decided_by) for d in closed.decisions] == [
        (outcome, reason_code, "abe"),
        ("refer_siu", "fraud_indicators", "ada"),
    ]
    assert fraud_labels()[assignment.claim_id] == label
    assert review.decision_choices(closed.status) == {}


def test_the_adjuster_who_referred_a_claim_cannot_record_its_siu_outcome(scored_database: str) -> None:
    adjuster = actor("adjuster")
    assignment = take_and_decide(adjuster, "refer_siu", "fraud_indicators")
    with pytest.raises(InvalidInput, match="another reviewer records its outcome"):
        decide_now(adjuster, assignment.claim_id, "approve", "siu_cleared")
    assert assignment.claim_id not in fraud_labels()
    assert detail(adjuster, assignment.claim_id).status == "siu_review"


def test_a_decision_note_is_kept_in_the_append_only_audit_log(scored_database: str) -> None:
    adjuster = actor("adjuster")
    assignment = take_and_decide(adjuster, "refer_siu", "fraud_indicators")
    decide_now(actor("adjuster2"), assignment.claim_id, "deny", "siu_confirmed_fraud", note="SIU file 9: staged.")
    with session_scope() as session:
        notes = [
            row.details.get("note")
            for row in session.scalars(select(AuditLog).where(AuditLog.action == "claim.decided"))
            if str(row.entity_id) == str(assignment.claim_id)
        ]
    assert "SIU file 9: staged." in notes


def test_a_decision_on_a_decided_claim_says_who_decided_what_and_when(scored_database: str) -> None:
    first, second = actor("adjuster"), actor("adjuster2")
    claim_id = explained_claim()
    version = detail(second, claim_id).version  # the second tab opens the claim
    decide_now(first, claim_id, "deny", "staged_incident")
    with session_scope() as session, pytest.raises(review.DecisionConflict) as refused:
        review.decide(
            session,
            actor=second,
            claim_id=claim_id,
            expected_version=version,
            decision="approve",
            reason_code="covered_loss",
            note="Receipts check out.",
        )
    assert re.search(
        r"already decided \(deny \(staged_incident\) by ada at \d{4}-\d\d-\d\d \d\d:\d\d UTC\)", str(refused.value)
    )
    assert "nothing was saved" in str(refused.value)


def test_a_comment_on_a_decided_claim_is_kept_shown_and_audited_with_its_text(scored_database: str) -> None:
    first, second = actor("adjuster"), actor("adjuster2")
    claim_id = explained_claim()
    decide_now(first, claim_id, "deny", "staged_incident")
    with session_scope() as session:
        review.add_comment(session, actor=second, claim_id=claim_id, text="  Receipts check out.\x07\n")
    [comment] = detail(first, claim_id).comments
    assert (comment.text, comment.author) == ("Receipts check out.", "abe")
    with session_scope() as session:
        entry = session.scalars(select(AuditLog).where(AuditLog.action == "claim.commented")).one()
    assert entry.actor == "abe" and entry.entity_id == str(claim_id)
    assert entry.details["text"] == "Receipts check out." and entry.details["status"] == "decided"


@pytest.mark.parametrize(
    ("who", "text", "error"),
    [
        ("compliance", "fine", PermissionDenied),
        ("manager", "fine", PermissionDenied),
        ("adjuster", " \n\t", InvalidInput),
        ("adjuster", "x" * (review.MAX_NOTE_LENGTH + 1), InvalidInput),
    ],
)
def test_comments_need_a_reviewer_and_some_text_within_the_limit(
    scored_database: str, who: str, text: str, error: type[Exception]
) -> None:
    with session_scope() as session, pytest.raises(error):
        review.add_comment(session, actor=actor(who), claim_id=explained_claim(), text=text)
    with session_scope() as session:
        assert session.scalar(select(func.count()).select_from(ClaimComment)) == 0


def test_claim_fields_are_grouped_labelled_and_formatted_for_people(scored_database: str) -> None:
    claim_id = explained_claim()
    shown = detail(actor("adjuster"), claim_id)
    sections = {s.title: dict(s.rows) for s in shown.sections}
    assert list(sections) == ["Claimant", "Policy", "Incident", "Amounts"]
    with session_scope() as session:
        claim = session.get(Claim, claim_id)
        assert claim is not None
        assert sections["Claimant"]["Name"] == claim.fields["claimant_name"]
        assert claim.amount is not None and claim.incident_date is not None
        assert sections["Amounts"]["Claimed"] == claim_fields.money(claim.amount)
        delay = (claim.report_date - claim.incident_date).days
        assert sections["Incident"]["Days to report"] == f"{delay:,} day" + ("" if delay == 1 else "s")
        assert sections["Policy"]["Line of business"] == claim.fields["line_of_business"]
    assert re.fullmatch(r"\$\d{1,3}(,\d{3})*(\.\d\d)?", sections["Amounts"]["Insured value"])
    assert re.fullmatch(r"\d+%", sections["Amounts"]["Claimed share of insured value"])
    masked = {s.title: dict(s.rows) for s in detail(actor("manager"), claim_id).sections}
    assert masked["Claimant"]["Name"] == masked["Claimant"]["Contact"] == review.MASK


def test_each_message_carries_its_sentiment_and_the_models_confidence_in_it(scored_database: str) -> None:
    with session_scope() as session:
        claim_id = session.scalar(select(Message.claim_id).where(Message.direction == "inbound").limit(1))
    messages = detail(actor("adjuster"), claim_id).messages
    assert messages
    for m in messages:
        assert m.probabilities is not None and m.confidence == m.probabilities[m.sentiment]
        assert m.confidence == max(m.probabilities.values())


def test_reason_codes_read_as_words() -> None:
    assert review.reason_name("siu_confirmed_fraud") == "SIU confirmed fraud"
    assert review.decided_as("deny", "staged_incident") == "deny (Staged incident)"
    assert {review.reason_name(code) for codes in review.REASON_CODES.values() for code in codes}.isdisjoint(
        {code for codes in review.REASON_CODES.values() for code in codes}
    )  # no code is shown raw
