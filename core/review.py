"""Claim review: everything an adjuster or compliance officer sees about one claim, read
from what is stored (prediction, explanation, messages, history, decisions), and the
decision itself, guarded by the claim's version counter so that two adjusters deciding
at once never overwrite each other.

A referral to SIU leaves the claim open in `siu_review` until SIU records its outcome as
a decision: confirmed fraud is a denial, cleared is an approval (so both become training
labels like any other). A note can be added to a claim as a comment at any time, for
example when someone else decided first.

Claimant name and contact are masked for roles without `VIEW_PII`, and taken out of the
narrative, messages and explanation words and reasons with other personal data
(`core.redaction`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from core import audit, claim_fields, claim_store, redaction, registry, serving
from core.auth import Actor, Permission, Role, require
from core.clock import day_after, day_start
from core.errors import ClaimLensError, InvalidInput, NotFound
from core.schema import active_schema
from core.tasks import Task
from db import dialect
from db.dialect import rows_changed
from db.models import (
    CLOSED_STATUSES,
    SIU_STATUS,
    Claim,
    ClaimComment,
    Explanation,
    Message,
    MessagePrediction,
    ModelVersion,
    Prediction,
    Review,
    User,
)

# Decisions and the reason codes an adjuster must pick from for each.
REASON_CODES: dict[str, tuple[str, ...]] = {
    "approve": ("covered_loss", "documents_verified", "low_risk_confirmed", "goodwill"),
    "deny": ("not_covered", "misrepresentation", "staged_incident", "inflated_amount", "duplicate_claim"),
    "refer_siu": ("fraud_indicators", "ring_pattern", "identity_concern", "prior_history"),
    "request_info": ("missing_documents", "police_report_needed", "proof_of_ownership", "clarify_narrative"),
}
# SIU's outcome of a referral, recorded as a decision on a claim in `siu_review`.
SIU_OUTCOMES: dict[str, tuple[str, ...]] = {
    "deny": ("siu_confirmed_fraud", "siu_confirmed_exaggeration"),
    "approve": ("siu_cleared", "siu_insufficient_evidence"),
}
DECISION_NAMES = {"approve": "approve", "deny": "deny", "refer_siu": "refer to SIU", "request_info": "request info"}
SIU_OUTCOME_NAMES = {"deny": "confirmed fraud: deny", "approve": "cleared: approve"}
# The claim's status after each decision: approve and deny close it, a referral waits for
# SIU's outcome, `request_info` keeps the claim with its adjuster.
NEXT_STATUS = {"approve": "decided", "deny": "decided", "refer_siu": SIU_STATUS, "request_info": "in_review"}
MAX_NOTE_LENGTH = 10_000
MASK = redaction.MASK  # what a masked field or redacted text shows


STATUS_NAMES = {
    "new": "new", "in_review": "in review", "siu_review": "SIU review", "decided": "decided",
    "closed": "settled",  # before import, in the claims system
}  # fmt: skip


def decided_as(decision: str, reason_code: str) -> str:
    """A decision and its reason as people read them: "deny (Staged incident)"."""
    return f"{DECISION_NAMES.get(decision, decision)} ({reason_name(reason_code)})"


def reason_name(code: str) -> str:
    """A reason code as people read it: `siu_confirmed_fraud` is "SIU confirmed fraud"."""
    text = " ".join(word.upper() if word == "siu" else word for word in code.split("_"))
    return text[:1].upper() + text[1:]


def moment(at: datetime) -> str:
    """A stored timestamp for people, in UTC ("2026-12-03 10:15 UTC"); naive ones are UTC already."""
    return f"{(at.astimezone(UTC) if at.tzinfo else at):%Y-%m-%d %H:%M} UTC"


class DecisionConflict(ClaimLensError):
    """Someone else changed the claim since this user loaded it."""


def decision_choices(status: str) -> dict[str, tuple[str, ...]]:
    """The decisions open on a claim in this status, each with its reason codes: SIU's
    outcomes on a referred claim, nothing on a closed one, the adjuster's otherwise."""
    if status == SIU_STATUS:
        return SIU_OUTCOMES
    if status in CLOSED_STATUSES:
        return {}
    return REASON_CODES


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

    @property
    def confidence(self) -> float | None:
        """The sentiment model's probability of the label it gave."""
        if self.sentiment is None or not self.probabilities:
            return None
        return self.probabilities.get(self.sentiment)


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
class CommentView:
    id: int
    text: str
    author: str
    created_at: datetime


@dataclass(frozen=True)
class ClaimDetail:
    id: int
    fields: dict[str, Any]
    narrative: str
    status: str
    version: int
    assigned_to: str | None
    prediction: StoredPrediction | None  # the serving one: the champion's, or mid-change the outgoing model's
    history: list[StoredPrediction] = field(default_factory=list)  # every model version's, newest first
    messages: list[MessageView] = field(default_factory=list)
    decisions: list[DecisionView] = field(default_factory=list)  # newest first
    comments: list[CommentView] = field(default_factory=list)  # oldest first
    referred_by_id: int | None = None  # in SIU review: who referred it (they cannot record its outcome)

    def choices_for(self, actor: Actor) -> dict[str, tuple[str, ...]]:
        """The decisions this actor may record now (see `decision_choices`): none on a claim
        they referred to SIU themselves, since the reviewer who suspects cannot also clear."""
        if self.status == SIU_STATUS and self.referred_by_id is not None and self.referred_by_id == actor.user_id:
            return {}
        return decision_choices(self.status)

    @property
    def sections(self) -> list[claim_fields.Section]:
        """The claim's fields grouped by the schema's sections, labelled and formatted."""
        return claim_fields.sections(self.fields)

    @property
    def claim_number(self) -> str:
        return str(self.fields[active_schema().roles.claim_number])

    @property
    def headline(self) -> str:
        """The claim number and its first segment's value ("CLM-1 · auto")."""
        segments = [str(self.fields.get(name) or "—").replace("_", " ") for name in active_schema().segments[:1]]
        return " · ".join([self.claim_number, *segments])


def find_claim(session: Session, *, actor: Actor, claim_number: str) -> int:
    require(actor, Permission.VIEW_CLAIMS)
    claim_id = session.scalar(select(Claim.id).where(Claim.claim_number == claim_number.strip()))
    if claim_id is None:
        raise NotFound(f"no claim numbered {claim_number.strip()!r}")
    return claim_id


def _explanation(row: Explanation | None, personal: list[str] | None = None) -> StoredExplanation | None:
    """The stored explanation; with `personal` (a role without `claims.view_pii`), its words
    and reasons without the claimant's personal data (`core.redaction`)."""
    if row is None:
        return None
    attributions = row.attributions or {}
    words = [(w, float(v)) for w, v in attributions.get("words", [])]
    reasons = list(row.reasons or [])
    if personal is not None:
        words = [(MASK if redaction.is_personal(w, personal=personal) else w, v) for w, v in words]
        reasons = [redaction.redact(reason, personal=personal) for reason in reasons]
    return StoredExplanation(
        method=row.method,
        parameters=row.parameters or {},
        base_value=row.base_value,
        output_value=row.output_value,
        fields=dict(attributions.get("fields", {})),
        words=words,
        reasons=reasons,
        created_at=row.created_at,
    )


def _prediction(
    prediction: Prediction, version: ModelVersion, explanation: Explanation | None, personal: list[str] | None = None
) -> StoredPrediction:
    return StoredPrediction(
        id=prediction.id,
        model_task=version.task,
        model_version=version.version,
        model_version_id=version.id,
        probability=prediction.probability,
        band=prediction.band,
        priority=prediction.priority,
        created_at=prediction.created_at,
        explanation=_explanation(explanation, personal),
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
    schema = active_schema()
    fields = claim_store.values(claim, [n for n in claim_fields.stored_names(schema) if n not in schema.text])
    personal = None if actor.may(Permission.VIEW_PII) else redaction.personal_values(claim)
    if personal is not None:
        fields.update(dict.fromkeys(schema.pii, MASK))
    text = claim_store.text_of(claim, schema)
    history_rows = session.execute(
        select(Prediction, ModelVersion, Explanation)
        .join(ModelVersion, ModelVersion.id == Prediction.model_version_id)
        .outerjoin(Explanation, Explanation.prediction_id == Prediction.id)
        .where(Prediction.claim_id == claim_id)
        .order_by(Prediction.created_at.desc(), Prediction.id.desc())
    ).all()
    history = [_prediction(p, v, e, personal) for p, v, e in history_rows]
    current = _serving_prediction(session, history)
    detail = ClaimDetail(
        id=claim.id,
        fields=fields,
        narrative=text if personal is None else redaction.redact(text, personal=personal),
        status=claim.status,
        version=claim.version,
        assigned_to=claim.assigned_to.username if claim.assigned_to else None,
        prediction=current,
        history=history,
        messages=_messages(session, claim_id, personal),
        decisions=_decisions(session, claim_id, history),
        comments=_comments(session, claim_id),
        referred_by_id=_referred_by(session, claim_id) if claim.status == SIU_STATUS else None,
    )
    if record_view:
        details = {"claim_number": claim.claim_number}
        audit.record(
            session, actor=actor, action="claim.viewed", entity_type="claim", entity_id=claim_id, details=details
        )
    return detail


def _serving_prediction(session: Session, history: list[StoredPrediction]) -> StoredPrediction | None:
    """The champion's prediction, or during a model change the outgoing model's (see core.serving)."""
    served = serving.serving(session)
    if served is None:
        return None
    for version_id in (served.champion_id, *(version_id for version_id, _ in served.fallbacks)):
        found = next((p for p in history if p.model_version_id == version_id), None)
        if found is not None:
            return found
    return None


def _messages(session: Session, claim_id: int, personal: list[str] | None = None) -> list[MessageView]:
    sentiment = registry.champion(session, Task.SENTIMENT)
    rows = session.execute(
        select(Message, MessagePrediction)
        .outerjoin(
            MessagePrediction,
            (MessagePrediction.message_id == Message.id)
            & (MessagePrediction.model_version_id == dialect.id_or_none(sentiment)),
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
            m.text if personal is None else redaction.redact(m.text, personal=personal),
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


def _latest_decision(session: Session, claim_id: int) -> str:
    """The claim's latest decision in words ("deny (staged_incident) by ada at 2026-12-03 10:15 UTC"), or ""."""
    row = session.execute(
        select(Review.decision, Review.reason_code, Review.decided_at, User.username)
        .join(User, User.id == Review.user_id)
        .where(Review.claim_id == claim_id)
        .order_by(Review.id.desc())
        .limit(1)
    ).first()
    if row is None:
        return ""
    decision, reason_code, decided_at, username = row
    return f"{DECISION_NAMES.get(decision, decision)} ({reason_code}) by {username} at {moment(decided_at)}"


def _comments(session: Session, claim_id: int) -> list[CommentView]:
    rows = session.execute(
        select(ClaimComment, User.username)
        .join(User, User.id == ClaimComment.user_id)
        .where(ClaimComment.claim_id == claim_id)
        .order_by(ClaimComment.created_at, ClaimComment.id)
    ).all()
    return [CommentView(c.id, c.text, username, c.created_at) for c, username in rows]


def add_comment(session: Session, *, actor: Actor, claim_id: int, text: str) -> ClaimComment:
    """Add a note to the claim outside a decision (any status, decided included); audited
    with its text, so the log says what was added."""
    require(actor, Permission.REVIEW_CLAIMS)
    if actor.user_id is None:
        raise InvalidInput("only a signed-in user can comment on claims")
    cleaned = _clean_note(text)
    if cleaned is None:
        raise InvalidInput("the comment is empty")
    claim = _claim(session, claim_id)
    comment = ClaimComment(claim_id=claim_id, user_id=actor.user_id, text=cleaned)
    session.add(comment)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="claim.commented",
        entity_type="claim",
        entity_id=claim_id,
        details={"claim_number": claim.claim_number, "comment_id": comment.id, "status": claim.status, "text": cleaned},
    )
    return comment


def _clean_note(note: str | None) -> str | None:
    if note is None:
        return None
    # Control characters other than newlines and tabs have no place in a note.
    cleaned = "".join(ch for ch in note if ch in "\n\t" or ch.isprintable()).strip()
    if len(cleaned) > MAX_NOTE_LENGTH:
        raise InvalidInput(f"the note is limited to {MAX_NOTE_LENGTH:,} characters")
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
    note = _clean_note(note)
    claim = _claim(session, claim_id)
    if not claim.is_open:
        raise DecisionConflict(
            f"claim {claim.claim_number} was already decided ({_latest_decision(session, claim_id)}); nothing was saved"
        )
    choices = decision_choices(claim.status)
    if decision not in choices:
        raise InvalidInput(
            f"claim {claim.claim_number} is waiting for SIU's outcome: {' or '.join(choices)}"
            if claim.status == SIU_STATUS
            else f"{decision} is not open on claim {claim.claim_number}"
        )
    if reason_code not in choices[decision]:
        raise InvalidInput(f"pick a reason code for {decision}: {', '.join(choices[decision])}")
    if claim.status == SIU_STATUS and _referred_by(session, claim_id) == actor.user_id:
        # Four eyes: the outcome of a referral becomes a training label, so the adjuster who
        # referred the claim cannot also clear or confirm it.
        raise InvalidInput(f"you referred claim {claim.claim_number} to SIU; another reviewer records its outcome")
    if claim.assigned_to_id not in (None, actor.user_id) and actor.role != Role.ADMIN:
        owner = claim.assigned_to.username if claim.assigned_to else "another adjuster"
        raise DecisionConflict(f"claim {claim.claim_number} is assigned to {owner}; only they can decide it")
    new_status = NEXT_STATUS[decision]
    # A referral leaves the adjuster's desk for the SIU queue; otherwise the decider holds the claim.
    assignee = None if new_status == SIU_STATUS else claim.assigned_to_id or actor.user_id
    changed = session.execute(
        update(Claim)
        .where(Claim.id == claim_id, Claim.version == expected_version, Claim.is_open)
        .values(status=new_status, version=expected_version + 1, assigned_to_id=assignee)
        .execution_options(synchronize_session=False)
    )
    if rows_changed(changed) != 1:
        latest = _latest_decision(session, claim_id)
        raise DecisionConflict(
            f"claim {claim.claim_number} changed while you were reviewing it (someone else decided or took it"
            + (f"; latest decision: {latest}" if latest else "")
            + "); reload to see the latest state — nothing was saved"
        )
    # The prediction the adjuster saw: the champion's, or the outgoing model's mid-change.
    served = serving.serving(session)
    prediction_id = (
        session.scalar(select(Prediction.id).where(Prediction.claim_id == claim_id, served.served()))
        if served
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
            "note": note,  # in the append-only log as written, whatever later happens to the review row
        },
    )
    return review


def _referred_by(session: Session, claim_id: int) -> int | None:
    """Who made the claim's latest SIU referral."""
    return session.scalar(
        select(Review.user_id)
        .where(Review.claim_id == claim_id, Review.decision == "refer_siu")
        .order_by(Review.id.desc())
        .limit(1)
    )


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
