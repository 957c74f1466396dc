"""Claim review: everything an adjuster or compliance officer sees about one claim, read
from what is stored (prediction, explanation, messages, history, decisions), and the
decision itself, guarded by the claim's version counter so that two adjusters deciding
at once never overwrite each other.

Claimant name and contact are masked for roles without `VIEW_PII`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from core import audit, registry
from core.auth import Actor, Permission, Role, require
from core.clock import day_after, day_start
from core.errors import ClaimLensError, InvalidInput, NotFound
from core.modeling.features import MODEL_INPUTS
from db.models import Claim, Explanation, Message, MessagePrediction, ModelVersion, Prediction, Review, User

# Decisions and the reason codes an adjuster must pick from for each.
REASON_CODES: dict[str, tuple[str, ...]] = {
    "approve": ("covered_loss", "documents_verified", "low_risk_confirmed", "goodwill"),
    "deny": ("not_covered", "misrepresentation", "staged_incident", "inflated_amount", "duplicate_claim"),
    "refer_siu": ("fraud_indicators", "ring_pattern", "identity_concern", "prior_history"),
    "request_info": ("missing_documents", "police_report_needed", "proof_of_ownership", "clarify_narrative"),
}
# Decisions that close the review; `request_info` keeps the claim with its adjuster.
FINAL_DECISIONS = ("approve", "deny", "refer_siu")
# What a decision says about fraud, for training labels and realized performance
# (a referral to SIU is a suspicion, not a finding, so it is no label).
DECISION_LABELS = {"deny": 1, "approve": 0}
MAX_NOTE_LENGTH = 4000
MASK = "•••"
PII_FIELDS = ("claimant_name", "claimant_contact")
CLAIM_FIELDS = ("claim_number", "policy_number", *(c for c in MODEL_INPUTS if c != "narrative"), *PII_FIELDS)


class DecisionConflict(ClaimLensError):
    """Someone else changed the claim since this user loaded it."""


@dataclass(frozen=True)
class StoredExplanation:
    method: str
    parameters: dict[str, Any]
    base_value: float
    output_value: float
    fields: dict[str, float]
    words: list[tuple[str, float]]
    reasons: list[str]
    created_at: datetime


@dataclass(frozen=True)
class StoredPrediction:
    id: int
    model_task: str
    model_version: int
    model_version_id: int
    probability: float
    band: str
    priority: float
    created_at: datetime
    explanation: StoredExplanation | None = None


@dataclass(frozen=True)
class MessageView:
    id: int
    sent_at: datetime
    direction: str
    channel: str
    text: str
    sentiment: str | None
    probabilities: dict[str, float] | None


@dataclass(frozen=True)
class DecisionView:
    id: int
    decision: str
    reason_code: str
    note: str | None
    decided_by: str
    decided_at: datetime
    claim_version: int
    prediction: StoredPrediction | None


@dataclass(frozen=True)
class ClaimDetail:
    id: int
    fields: dict[str, Any]
    narrative: str
    status: str
    version: int
    assigned_to: str | None
    prediction: StoredPrediction | None  # the current champion's
    history: list[StoredPrediction] = field(default_factory=list)  # every model version's, newest first
    messages: list[MessageView] = field(default_factory=list)
    decisions: list[DecisionView] = field(default_factory=list)


def find_claim(session: Session, *, actor: Actor, claim_number: str) -> int:
    require(actor, Permission.VIEW_CLAIMS)
    claim_id = session.scalar(select(Claim.id).where(Claim.claim_number == claim_number.strip()))
    if claim_id is None:
        raise NotFound(f"no claim numbered {claim_number.strip()!r}")
    return claim_id


def _explanation(row: Explanation | None) -> StoredExplanation | None:
    if row is None:
        return None
    attributions = row.attributions or {}
    return StoredExplanation(
        method=row.method,
        parameters=row.parameters or {},
        base_value=row.base_value,
        output_value=row.output_value,
        fields=dict(attributions.get("fields", {})),
        words=[(w, float(v)) for w, v in attributions.get("words", [])],
        reasons=list(row.reasons or []),
        created_at=row.created_at,
    )


def _prediction(prediction: Prediction, version: ModelVersion, explanation: Explanation | None) -> StoredPrediction:
    return StoredPrediction(
        id=prediction.id,
        model_task=version.task,
        model_version=version.version,
        model_version_id=version.id,
        probability=prediction.probability,
        band=prediction.band,
        priority=prediction.priority,
        created_at=prediction.created_at,
        explanation=_explanation(explanation),
    )


def _claim(session: Session, claim_id: int) -> Claim:
    claim = session.get(Claim, claim_id)
    if claim is None:
        raise NotFound(f"claim {claim_id} does not exist")
    return claim


def claim_detail(session: Session, *, actor: Actor, claim_id: int, record_view: bool = True) -> ClaimDetail:
    """The claim as stored, with predictions, explanation, messages and decisions. The
    view is audited (claim data is personal data), so the caller commits; a page that
    redraws the claim it already showed passes `record_view=False`."""
    require(actor, Permission.VIEW_CLAIMS)
    claim = _claim(session, claim_id)
    fields = {name: getattr(claim, name) for name in CLAIM_FIELDS}
    if not actor.may(Permission.VIEW_PII):
        fields.update(dict.fromkeys(PII_FIELDS, MASK))
    history_rows = session.execute(
        select(Prediction, ModelVersion, Explanation)
        .join(ModelVersion, ModelVersion.id == Prediction.model_version_id)
        .outerjoin(Explanation, Explanation.prediction_id == Prediction.id)
        .where(Prediction.claim_id == claim_id)
        .order_by(Prediction.created_at.desc(), Prediction.id.desc())
    ).all()
    history = [_prediction(p, v, e) for p, v, e in history_rows]
    champion = registry.champion(session, registry.CLAIM_TASK)
    current = next((p for p in history if champion and p.model_version_id == champion.id), None)
    detail = ClaimDetail(
        id=claim.id,
        fields=fields,
        narrative=claim.narrative,
        status=claim.status,
        version=claim.version,
        assigned_to=claim.assigned_to.username if claim.assigned_to else None,
        prediction=current,
        history=history,
        messages=_messages(session, claim_id),
        decisions=_decisions(session, claim_id, history),
    )
    if record_view:
        details = {"claim_number": claim.claim_number}
        audit.record(
            session, actor=actor, action="claim.viewed", entity_type="claim", entity_id=claim_id, details=details
        )
    return detail


def _messages(session: Session, claim_id: int) -> list[MessageView]:
    sentiment = registry.champion(session, registry.SENTIMENT_TASK)
    rows = session.execute(
        select(Message, MessagePrediction)
        .outerjoin(
            MessagePrediction,
            (MessagePrediction.message_id == Message.id)
            & (MessagePrediction.model_version_id == (sentiment.id if sentiment else -1)),
        )
        .where(Message.claim_id == claim_id)
        .order_by(Message.sent_at, Message.id)
    ).all()
    return [
        MessageView(
            m.id,
            m.sent_at,
            m.direction,
            m.channel,
            m.text,
            p.label if p else None,
            dict(p.probabilities) if p else None,
        )
        for m, p in rows
    ]


def _decisions(session: Session, claim_id: int, history: list[StoredPrediction]) -> list[DecisionView]:
    by_id = {p.id: p for p in history}
    rows = session.execute(
        select(Review, User.username)
        .join(User, User.id == Review.user_id)
        .where(Review.claim_id == claim_id)
        .order_by(Review.decided_at.desc(), Review.id.desc())
    ).all()
    return [
        DecisionView(
            r.id,
            r.decision,
            r.reason_code,
            r.note,
            username,
            r.decided_at,
            r.claim_version,
            by_id.get(r.prediction_id) if r.prediction_id else None,
        )
        for r, username in rows
    ]


def _clean_note(note: str | None) -> str | None:
    if note is None:
        return None
    # Control characters other than newlines and tabs have no place in a note.
    cleaned = "".join(ch for ch in note if ch in "\n\t" or ch.isprintable()).strip()
    if len(cleaned) > MAX_NOTE_LENGTH:
        raise InvalidInput(f"the note is limited to {MAX_NOTE_LENGTH} characters")
    return cleaned or None


def decide(
    session: Session,
    *,
    actor: Actor,
    claim_id: int,
    expected_version: int,
    decision: str,
    reason_code: str,
    note: str | None = None,
) -> Review:
    """Record a decision on the claim as the actor saw it (`expected_version`). If the
    claim changed since (another adjuster decided or took it), raise DecisionConflict and
    write nothing."""
    require(actor, Permission.REVIEW_CLAIMS)
    if actor.user_id is None:
        raise InvalidInput("only a signed-in user can decide claims")
    if decision not in REASON_CODES:
        raise InvalidInput(f"unknown decision {decision!r}; choose one of {', '.join(REASON_CODES)}")
    if reason_code not in REASON_CODES[decision]:
        raise InvalidInput(f"pick a reason code for {decision}: {', '.join(REASON_CODES[decision])}")
    note = _clean_note(note)
    claim = _claim(session, claim_id)
    if claim.status == "decided":
        raise DecisionConflict(f"claim {claim.claim_number} was already decided; reload to see the decision")
    if claim.assigned_to_id not in (None, actor.user_id) and actor.role != Role.ADMIN:
        owner = claim.assigned_to.username if claim.assigned_to else "another adjuster"
        raise DecisionConflict(f"claim {claim.claim_number} is assigned to {owner}; only they can decide it")
    new_status = "decided" if decision in FINAL_DECISIONS else "in_review"
    changed = session.execute(
        update(Claim)
        .where(Claim.id == claim_id, Claim.version == expected_version, Claim.status != "decided")
        .values(status=new_status, version=expected_version + 1, assigned_to_id=claim.assigned_to_id or actor.user_id)
        .execution_options(synchronize_session=False)
    )
    if changed.rowcount != 1:
        raise DecisionConflict(
            f"claim {claim.claim_number} changed while you were reviewing it (someone else decided or took it); "
            "reload to see the latest state — nothing was saved"
        )
    champion = registry.champion(session, registry.CLAIM_TASK)
    prediction_id = (
        session.scalar(
            select(Prediction.id).where(Prediction.claim_id == claim_id, Prediction.model_version_id == champion.id)
        )
        if champion
        else None
    )
    review = Review(
        claim_id=claim_id,
        user_id=actor.user_id,
        decision=decision,
        reason_code=reason_code,
        note=note,
        prediction_id=prediction_id,
        claim_version=expected_version + 1,
    )
    session.add(review)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="claim.decided",
        entity_type="claim",
        entity_id=claim_id,
        details={
            "claim_number": claim.claim_number,
            "decision": decision,
            "reason_code": reason_code,
            "before": {"status": claim.status, "version": expected_version},
            "after": {"status": new_status, "version": expected_version + 1},
            "prediction_id": prediction_id,
        },
    )
    return review


@dataclass(frozen=True)
class DecisionRow:
    claim_id: int
    claim_number: str
    decision: str
    reason_code: str
    decided_by: str
    decided_at: datetime
    probability: float | None
    band: str | None


def decided_claims(
    session: Session,
    *,
    actor: Actor,
    since: date | None = None,
    until: date | None = None,
    decision: str | None = None,
    limit: int = 200,
) -> list[DecisionRow]:
    """Recent decisions with the prediction they were made on, for compliance's search."""
    require(actor, Permission.VIEW_CLAIMS)
    query = (
        select(Review, Claim.claim_number, User.username, Prediction.probability, Prediction.band)
        .join(Claim, Claim.id == Review.claim_id)
        .join(User, User.id == Review.user_id)
        .outerjoin(Prediction, Prediction.id == Review.prediction_id)
        .order_by(Review.decided_at.desc(), Review.id.desc())
        .limit(min(max(limit, 1), 1000))
    )
    if since:
        query = query.where(Review.decided_at >= day_start(since))
    if until:
        query = query.where(Review.decided_at < day_after(until))
    if decision:
        query = query.where(Review.decision == decision)
    return [
        DecisionRow(r.claim_id, number, r.decision, r.reason_code, user, r.decided_at, probability, band)
        for r, number, user, probability, band in session.execute(query)
    ]
