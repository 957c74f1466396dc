"""ORM models: every table ClaimLens stores, typed with SQLAlchemy 2.0 `Mapped[...]`.

Model inputs (the `claims` and `messages` columns a model reads) are kept apart from
ground truth (`claim_ground_truth`): the generator's labels and oracle probability are
for evaluation only and must never leak into a feature.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    Boolean,
    ColumnElement,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    false,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.hybrid import hybrid_property
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

# `siu_review`: referred to the Special Investigations Unit, open until SIU records an outcome.
# `closed`: imported already settled by the claims system (history, never reviewed here).
CLAIM_STATUSES = ("new", "in_review", "siu_review", "decided", "closed")
SIU_STATUS = "siu_review"
IMPORTED_CLOSED_STATUS = "closed"
# A claim is open (waiting for a decision or an outcome) in every status but these.
CLOSED_STATUSES = ("decided", IMPORTED_CLOSED_STATUS)


class Stage(StrEnum):
    """A model version's place in the registry (`core.registry` moves it)."""

    CANDIDATE = "candidate"  # trained and registered, not serving
    CHAMPION = "champion"  # serving its task (one per task)
    RETIRED = "retired"  # replaced by a promotion
    ROLLED_BACK = "rolled_back"  # taken out of service by a rollback


class RunStatus(StrEnum):
    """A training or scoring run's state (`core.jobs`, `core.scoring`)."""

    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {dict[str, Any]: JSON, list[Any]: JSON}


class TimestampMixin:
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )


class User(TimestampMixin, Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(16))
    password_hash: Mapped[str | None] = mapped_column(String(255))
    email: Mapped[str | None] = mapped_column(String(255), unique=True)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_login_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # An administrator set the password: its owner chooses their own before anything else.
    must_change_password: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())

    def __repr__(self) -> str:
        return f"User(id={self.id!r}, username={self.username!r}, role={self.role!r})"


class UserSession(Base):
    """A signed-in browser session. The browser keeps a random token in a cookie; only the
    token's SHA-256 is stored, so a copy of this table signs nobody in. Until the browser
    has traded the one-time sign-in code for its cookie (`cookie_issued_at`), the hash is
    the code's."""

    __tablename__ = "user_sessions"
    __table_args__ = (Index("ix_user_sessions_user_open", "user_id", "ended_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    cookie_issued_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    ended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # The user's last click (a page refreshing itself is no activity): idle sessions end.
    last_active_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # signed out | disabled | role changed | password reset | password changed
    end_reason: Mapped[str | None] = mapped_column(String(32))

    def __repr__(self) -> str:
        return f"UserSession(id={self.id!r}, user_id={self.user_id!r}, ended_at={self.ended_at!r})"


class Claim(TimestampMixin, Base):
    """A claim in the insurer's own shape: the columns every part of ClaimLens needs
    (identity, the report and incident days, the amount, review state) and the rest of
    the schema's fields (`core.schema`) in `fields`, read by name through `core.claim_store`."""

    __tablename__ = "claims"
    __table_args__ = (
        Index("ix_claims_status", "status"),
        Index("ix_claims_report_date", "report_date"),
        Index("ix_claims_incident_date", "incident_date"),
        # Partial: most claims are unassigned, and SQLite's planner misjudges "assigned to me"
        # when the NULLs are counted (benchmarks/bench_queue.py).
        Index(
            "ix_claims_assigned_open",
            "assigned_to_id",
            "status",
            sqlite_where=text("assigned_to_id IS NOT NULL"),
            postgresql_where=text("assigned_to_id IS NOT NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    claim_number: Mapped[str] = mapped_column(String(64), unique=True)
    policy_number: Mapped[str | None] = mapped_column(String(64), index=True)
    report_date: Mapped[date] = mapped_column(Date)
    incident_date: Mapped[date | None] = mapped_column(Date)
    amount: Mapped[float | None] = mapped_column(Float)
    # The schema's other fields by name: numbers as numbers, dates as ISO strings (JSONB on PostgreSQL).
    fields: Mapped[dict[str, Any]] = mapped_column(JSON().with_variant(JSONB(), "postgresql"), default=dict)
    status: Mapped[str] = mapped_column(String(16), default="new")
    assigned_to_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    # Optimistic locking: every state change must match and bump this counter.
    version: Mapped[int] = mapped_column(Integer, default=1)

    messages: Mapped[list[Message]] = relationship(back_populates="claim", order_by="Message.sent_at")
    ground_truth: Mapped[ClaimGroundTruth | None] = relationship(back_populates="claim")
    assigned_to: Mapped[User | None] = relationship()

    @hybrid_property
    def is_open(self) -> bool:
        """Waiting for a decision or an outcome (in SQL: `.where(Claim.is_open)`)."""
        return self.status not in CLOSED_STATUSES

    @is_open.inplace.expression
    @classmethod
    def _is_open_expression(cls) -> ColumnElement[bool]:
        return cls.status.not_in(CLOSED_STATUSES)

    def __repr__(self) -> str:
        return f"Claim(id={self.id!r}, claim_number={self.claim_number!r}, status={self.status!r})"


class ClaimGroundTruth(Base):
    """Labels and the generator's oracle, stored apart from the claim's model inputs."""

    __tablename__ = "claim_ground_truth"

    claim_id: Mapped[int] = mapped_column(ForeignKey("claims.id", ondelete="CASCADE"), primary_key=True)
    is_fraud: Mapped[bool | None] = mapped_column(Boolean)
    oracle_probability: Mapped[float | None] = mapped_column(Float)
    source: Mapped[str] = mapped_column(String(64))

    claim: Mapped[Claim] = relationship(back_populates="ground_truth")


class Message(Base):
    __tablename__ = "messages"
    __table_args__ = (Index("ix_messages_claim_sent", "claim_id", "sent_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    claim_id: Mapped[int] = mapped_column(ForeignKey("claims.id", ondelete="CASCADE"))
    sent_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    channel: Mapped[str] = mapped_column(String(16))
    direction: Mapped[str] = mapped_column(String(8))
    text: Mapped[str] = mapped_column(Text)
    # Ground-truth sentiment when known (generator or a human label); never a model input.
    true_sentiment: Mapped[str | None] = mapped_column(String(8))

    claim: Mapped[Claim] = relationship(back_populates="messages")

    def __repr__(self) -> str:
        return f"Message(id={self.id!r}, claim_id={self.claim_id!r}, direction={self.direction!r})"


class ModelVersion(Base):
    __tablename__ = "model_versions"
    __table_args__ = (
        UniqueConstraint("task", "version", name="uq_model_versions_task_version"),
        Index("ix_model_versions_task_stage", "task", "stage"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    task: Mapped[str] = mapped_column(String(16))  # claim_risk | sentiment
    version: Mapped[int] = mapped_column(Integer)
    stage: Mapped[str] = mapped_column(String(16), default=Stage.CANDIDATE)
    artifact_path: Mapped[str] = mapped_column(String(512))
    base_model: Mapped[str] = mapped_column(String(512))
    method: Mapped[str] = mapped_column(String(16))
    metrics: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # Band thresholds and other scoring parameters that travel with the model.
    parameters: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    training_run_id: Mapped[int | None] = mapped_column(ForeignKey("training_runs.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    promoted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # The champion this version replaced, so a rollback knows what to restore.
    previous_champion_id: Mapped[int | None] = mapped_column(ForeignKey("model_versions.id"))
    # While a new champion has not yet scored every open claim, the champion it replaced
    # (by promotion or rollback) keeps serving the queue for the claims not yet rescored.
    serving_fallback_id: Mapped[int | None] = mapped_column(
        ForeignKey("model_versions.id", name="fk_model_versions_serving_fallback")
    )

    def __repr__(self) -> str:
        return f"ModelVersion(task={self.task!r}, version={self.version!r}, stage={self.stage!r})"


class TrainingRun(Base):
    __tablename__ = "training_runs"
    __table_args__ = (Index("ix_training_runs_status_requested", "status", "requested_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    task: Mapped[str] = mapped_column(String(16))
    method: Mapped[str] = mapped_column(String(16))
    profile: Mapped[str] = mapped_column(String(16))
    config: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    data_since: Mapped[date | None] = mapped_column(Date)
    data_until: Mapped[date | None] = mapped_column(Date)
    # queued | running | succeeded | failed | cancelled
    status: Mapped[str] = mapped_column(String(16), default=RunStatus.QUEUED)
    progress: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    cancel_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    error: Mapped[str | None] = mapped_column(Text)
    worker_id: Mapped[str | None] = mapped_column(String(128))
    requested_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    requested_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # A running worker touches this; a run whose heartbeat stops is reaped as failed.
    heartbeat_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Which labelled claims the run trained/validated/tested on (ids per split).
    data_manifest: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class Prediction(Base):
    """A claim-risk prediction; at most one per claim and model version."""

    __tablename__ = "predictions"
    __table_args__ = (
        UniqueConstraint("claim_id", "model_version_id", name="uq_predictions_claim_model"),
        Index("ix_predictions_band_priority", "band", "priority"),
        # The triage queue walks this backwards (priority DESC, id DESC) and stops after one page.
        Index("ix_predictions_model_priority", "model_version_id", "priority", "id", "band", "claim_id"),
        Index("ix_predictions_model_created", "model_version_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    claim_id: Mapped[int] = mapped_column(ForeignKey("claims.id", ondelete="CASCADE"))
    model_version_id: Mapped[int] = mapped_column(ForeignKey("model_versions.id"))
    probability: Mapped[float] = mapped_column(Float)
    band: Mapped[str] = mapped_column(String(8))
    priority: Mapped[float] = mapped_column(Float)
    input_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class Explanation(Base):
    """SHAP attributions of a claim prediction, stored as computed (never recomputed for display)."""

    __tablename__ = "explanations"

    id: Mapped[int] = mapped_column(primary_key=True)
    prediction_id: Mapped[int] = mapped_column(ForeignKey("predictions.id", ondelete="CASCADE"), unique=True)
    method: Mapped[str] = mapped_column(String(32))
    parameters: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    base_value: Mapped[float] = mapped_column(Float)
    output_value: Mapped[float] = mapped_column(Float)
    # {"fields": {name: value}, "words": [[word, value], ...]} in narrative order
    attributions: Mapped[dict[str, Any]] = mapped_column(JSON)
    reasons: Mapped[list[Any]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class ScoringRun(Base):
    __tablename__ = "scoring_runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    worker_id: Mapped[str] = mapped_column(String(128))
    claim_model_version_id: Mapped[int | None] = mapped_column(ForeignKey("model_versions.id"))
    sentiment_model_version_id: Mapped[int | None] = mapped_column(ForeignKey("model_versions.id"))
    rescore_all: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[str] = mapped_column(String(16), default=RunStatus.RUNNING)
    claims_scored: Mapped[int] = mapped_column(Integer, default=0)
    messages_scored: Mapped[int] = mapped_column(Integer, default=0)
    explanations: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    duration_s: Mapped[float | None] = mapped_column(Float)


class MessagePrediction(Base):
    __tablename__ = "message_predictions"
    __table_args__ = (UniqueConstraint("message_id", "model_version_id", name="uq_message_predictions_message_model"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("messages.id", ondelete="CASCADE"))
    model_version_id: Mapped[int] = mapped_column(ForeignKey("model_versions.id"))
    label: Mapped[str] = mapped_column(String(8))
    probabilities: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class Review(Base):
    """An adjuster's decision on a claim; it also becomes a training label."""

    __tablename__ = "reviews"
    __table_args__ = (Index("ix_reviews_claim_decided", "claim_id", "decided_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    claim_id: Mapped[int] = mapped_column(ForeignKey("claims.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    decision: Mapped[str] = mapped_column(String(24))  # approve|deny|refer_siu|request_info
    reason_code: Mapped[str] = mapped_column(String(32))
    note: Mapped[str | None] = mapped_column(Text)
    prediction_id: Mapped[int | None] = mapped_column(ForeignKey("predictions.id"))
    claim_version: Mapped[int] = mapped_column(Integer)
    decided_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class ClaimComment(Base):
    """A note added to a claim outside a decision (for example after someone else decided it)."""

    __tablename__ = "claim_comments"
    __table_args__ = (Index("ix_claim_comments_claim_created", "claim_id", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    claim_id: Mapped[int] = mapped_column(ForeignKey("claims.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    def __repr__(self) -> str:
        return f"ClaimComment(id={self.id!r}, claim_id={self.claim_id!r}, user_id={self.user_id!r})"


class AuditLog(Base):
    """Append-only record of who did what; no code path updates or deletes rows."""

    __tablename__ = "audit_log"
    __table_args__ = (
        Index("ix_audit_log_at", "at"),
        Index("ix_audit_log_actor_at", "actor", "at"),
        Index("ix_audit_log_entity", "entity_type", "entity_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    actor: Mapped[str] = mapped_column(String(128))
    actor_role: Mapped[str] = mapped_column(String(16))
    action: Mapped[str] = mapped_column(String(64), index=True)
    entity_type: Mapped[str] = mapped_column(String(32))
    entity_id: Mapped[str | None] = mapped_column(String(64))
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class AuditChainLink(Base):
    """One sealed audit row: the SHA-256 of its content and of the row before's hash
    (`core.audit.seal`). Append-only, like the log."""

    __tablename__ = "audit_chain"

    audit_id: Mapped[int] = mapped_column(primary_key=True)
    hash: Mapped[str] = mapped_column(String(64))
    sealed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class DriftReport(Base):
    """One monitoring window compared with the champion's reference (training) window."""

    __tablename__ = "drift_reports"
    __table_args__ = (
        UniqueConstraint("model_version_id", "window", "window_start", name="uq_drift_reports_model_window"),
        Index("ix_drift_reports_window_start", "window_start"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    model_version_id: Mapped[int] = mapped_column(ForeignKey("model_versions.id"))
    window: Mapped[str] = mapped_column(String(8))  # day | week
    window_start: Mapped[date] = mapped_column(Date)
    window_end: Mapped[date] = mapped_column(Date)
    reference_start: Mapped[date] = mapped_column(Date)
    reference_end: Mapped[date] = mapped_column(Date)
    claims: Mapped[int] = mapped_column(Integer)
    # [{family, name, segment, method, value, threshold, p_value, drift, details...}, ...]
    metrics: Mapped[list[Any]] = mapped_column(JSON, default=list)
    changed_terms: Mapped[list[Any]] = mapped_column(JSON, default=list)
    thresholds: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    alerts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class DriftAlert(Base):
    """A metric over its threshold; a manager acknowledges it (audited)."""

    __tablename__ = "drift_alerts"
    __table_args__ = (
        Index("ix_drift_alerts_report", "report_id"),
        Index("ix_drift_alerts_open", "acknowledged_at"),
        # One alert per signal and segment in a window (migration 0010).
        Index("uq_drift_alerts_signal_segment", "report_id", "family", "metric", "segment", unique=True),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("drift_reports.id", ondelete="CASCADE"))
    family: Mapped[str] = mapped_column(String(16))
    metric: Mapped[str] = mapped_column(String(64))
    segment: Mapped[str] = mapped_column(String(64))
    value: Mapped[float] = mapped_column(Float)
    threshold: Mapped[float] = mapped_column(Float)
    message: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    acknowledged_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    acknowledged_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    acknowledgement: Mapped[str | None] = mapped_column(Text)
