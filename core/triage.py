"""The adjusters' triage queue: flagged claims waiting for review, ordered by the triage
priority stored with the champion's prediction, filtered and paged in SQL, and "take
next", which assigns the highest-priority unassigned claim to the adjuster who asks.

The queue reads the predictions that serve (`core.serving`): the claim-risk champion's,
and during a model change the outgoing champion's for open claims not yet rescored, so
the queue never empties when a model is promoted or rolled back. A claim no model has
scored yet is not in the queue until the worker (or `claimlens score`) scores it. Pages are fetched with
LIMIT/OFFSET over the `(model_version_id, priority)` index and one row more than asked,
to know whether there is a next page. The total of matching claims is known from the last
page; otherwise `count_matching` counts it, up to `COUNT_CAP` (past it, "1,000+"), as a
query of its own so that a page can show its rows before the count arrives.

Claims referred to SIU wait in `siu_review`, outside the triage view, in their own view
(`QUEUE_VIEWS`) for the SIU reviewers, whatever their band.

Triage priority (0-100, higher first), computed by `priority` when a claim is scored and
stored with its prediction, so the queue pages through an index:

    priority = 100 * (w_risk * p
                      + w_amount * min(log10(1 + amount) / log10(1 + AMOUNT_CAP), 1)
                      + w_wait * min(days_waiting / (2 * sla_days), 1)) / (w_risk + w_amount + w_wait)

with weights and SLA from settings (`CLAIMLENS_TRIAGE_*`); days waiting are counted from
the report date to today. A claim's priority ages: each day the worker brings the waiting
part of every open claim's serving prediction up to date (`age_priorities`), so a claim
left waiting rises in the queue instead of keeping the priority it was scored with.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import Select, false, func, literal_column, or_, select, update
from sqlalchemy.orm import Session

from core import audit, claim_fields, claim_store, clock, redaction, serving
from core.auth import Actor, Permission, require
from core.bands import FLAGGED, Band
from core.config import Settings, get_settings
from core.errors import InvalidInput
from core.schema import Schema, active_schema
from db import dialect
from db.dialect import rows_changed
from db.models import (
    CLAIM_STATUSES,
    SIU_STATUS,
    Claim,
    Explanation,
    Prediction,
    User,
)

AMOUNT_CAP = 1_000_000.0  # a claimed amount at or above this gets the whole amount weight


AGE_READ_ROWS = 5_000  # predictions read at a time when priorities are aged


def priority_reads(schema: Schema | None = None) -> tuple[str, ...]:
    """The claim fields `priority_of` reads: the schema's report date and amount (if any)."""
    roles = (schema or active_schema()).roles
    return (roles.reported, roles.amount) if roles.amount else (roles.reported,)


def priority_of(
    probability: float, claim: Mapping[Any, Any], today: date, settings: Settings, reads: tuple[str, ...] | None = None
) -> float:
    """A claim's priority on `today`, from its fields (`priority_reads`, passed in by a caller
    that prices many claims, so the schema is looked up once) and its probability."""
    reported, *amount = reads or priority_reads()
    waited = (today - _day(claim[reported])).days
    value = claim[amount[0]] if amount else None
    return priority(probability, None if value is None else float(value), waited, settings)


def _day(value: Any) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value)[:10])


def priority(probability: float, amount: float | None, days_waiting: float, settings: Settings) -> float:
    """Without an amount (a schema with none, or a claim without one) its weight drops out
    and the other two are weighed as before, relative to each other."""
    amount_weight = settings.triage_amount_weight if amount is not None else 0.0
    weights = settings.triage_risk_weight + amount_weight + settings.triage_wait_weight
    amount_part = min(math.log10(1 + max(amount or 0.0, 0.0)) / math.log10(1 + AMOUNT_CAP), 1.0)
    wait_part = min(max(days_waiting, 0.0) / (2 * settings.triage_sla_days), 1.0)
    score = (
        settings.triage_risk_weight * probability
        + amount_weight * amount_part
        + settings.triage_wait_weight * wait_part
    )
    return round(100.0 * score / weights, 3) if weights else 0.0


BANDS = tuple(Band)  # the risk filter's choices, highest first
OPEN_STATUSES = ("new", "in_review")
# Past this many matching claims the total is shown as "1,000+": counting stops there, so
# that over a million claims the count stays within tens of ms (a rare filter: a few hundred).
COUNT_CAP = 1_000
MAX_PAGE_SIZE = 200
MAX_SEARCH_LENGTH = 200
# How many candidates "take next" tries when other adjusters take the same claims first.
TAKE_NEXT_ATTEMPTS = 20


@dataclass(frozen=True)
class QueueFilters:
    # (schema segment, the values kept): e.g. (("line_of_business", ("auto", "travel")),)
    segments: tuple[tuple[str, tuple[str, ...]], ...] = ()
    bands: tuple[str, ...] = tuple(FLAGGED)
    statuses: tuple[str, ...] = OPEN_STATUSES
    assigned_to_me: bool = False
    reported_from: date | None = None
    reported_to: date | None = None
    search: str = ""

    def __post_init__(self) -> None:
        schema = active_schema()
        choices = [(segment, values, segment_choices(segment, schema)) for segment, values in self.segments]
        for segment, _, _ in choices:
            if segment not in schema.segments:
                known = ", ".join(schema.segments) or "none"
                raise InvalidInput(f"{segment!r} is not a segment of the schema (segments: {known})")
        for name, values, allowed in (
            *((claim_fields.label(s, schema).lower(), v, a) for s, v, a in choices if a),
            ("band", self.bands, BANDS),
            ("status", self.statuses, CLAIM_STATUSES),
        ):
            unknown = sorted(set(values) - set(allowed))
            if unknown:
                raise InvalidInput(f"unknown {name} {', '.join(unknown)}; choose from {', '.join(allowed)}")
        if self.reported_from and self.reported_to and self.reported_from > self.reported_to:
            raise InvalidInput("the date range ends before it starts")
        if len(self.search) > MAX_SEARCH_LENGTH:
            raise InvalidInput(f"search text is limited to {MAX_SEARCH_LENGTH} characters")


def segment_choices(segment: str, schema: Schema | None = None) -> tuple[str, ...]:
    """The values a segment filter offers: those its field declares (empty when it
    declares none: any value may be typed)."""
    return tuple(getattr((schema or active_schema()).field(segment), "values", ()))


# The queue's views and the filters each starts from: triage (flagged claims waiting for an
# adjuster) and SIU referrals (every band: a referral is the adjuster's call, not the model's).
QUEUE_VIEWS: dict[str, QueueFilters] = {
    "Triage": QueueFilters(),
    "SIU referrals": QueueFilters(bands=(), statuses=(SIU_STATUS,)),
}


@dataclass(frozen=True)
class QueueRow:
    claim_id: int
    claim_number: str
    priority: float
    band: str
    probability: float
    top_reason: str | None
    amount: float | None  # the schema's amount, None for a schema without one
    segments: dict[str, Any]  # schema segment -> this claim's value
    report_date: date
    age_days: int
    sla: str  # "due" | "overdue" for an open claim; "" for a closed one (no SLA runs)
    status: str
    assigned_to: str | None
    model_version: int | None = None  # the claim-risk version whose prediction this row shows
    from_previous_model: bool = False  # served by the outgoing champion until the new one rescores it


@dataclass(frozen=True)
class QueuePage:
    rows: list[QueueRow]
    page: int
    page_size: int
    has_next: bool
    champion_version: int | None = None
    notes: list[str] = field(default_factory=list)
    total: int | None = None  # claims matching the filters when this is the last page; else count_matching


@dataclass(frozen=True)
class QueueCount:
    total: int  # claims matching the filters, at most COUNT_CAP
    capped: bool  # more than COUNT_CAP match

    @property
    def label(self) -> str:
        return f"{self.total:,}+" if self.capped else f"{self.total:,}"


def sla_state(age_days: int, sla_days: int, *, is_open: bool = True) -> str:
    """`due` up to and including the SLA's last day, `overdue` after it; nothing for a
    closed claim, whose clock has stopped."""
    if not is_open:
        return ""
    return "overdue" if age_days > sla_days else "due"


def count_matching(session: Session, *, actor: Actor, filters: QueueFilters | None = None) -> QueueCount:
    """How many claims the queue holds under these filters, counted up to COUNT_CAP. On
    SQLite the count keeps the queue's order, walking the priority index from the top where
    the flagged claims are; PostgreSQL's planner, with real statistics, does better unordered."""
    require(actor, Permission.VIEW_CLAIMS)
    _check_search(actor, filters or QueueFilters())
    served = serving.serving(session)
    if served is None:
        return QueueCount(0, False)
    dialect_name = session.get_bind().dialect.name
    matching = _queue_query(served, filters or QueueFilters(), actor, dialect_name).with_only_columns(Prediction.id)
    if dialect_name != "sqlite":
        matching = matching.order_by(None)
    total = session.scalar(select(func.count()).select_from(matching.limit(COUNT_CAP + 1).subquery())) or 0
    return QueueCount(min(total, COUNT_CAP), total > COUNT_CAP)


def _shown(reason: str, claim: Claim, actor: Actor) -> str:
    """A reason as this actor may read it (a word of the narrative may be the claimant's name)."""
    if actor.may(Permission.VIEW_PII):
        return reason
    return redaction.redact(reason, personal=redaction.personal_values(claim))


def _check_search(actor: Actor, filters: QueueFilters) -> None:
    """A role that does not see personal data cannot search for it (e-mail addresses,
    phone numbers, dates of birth: `core.redaction`)."""
    if filters.search.strip() and not actor.may(Permission.VIEW_PII) and redaction.is_personal(filters.search):
        raise InvalidInput("searching for e-mail addresses, phone numbers or birth dates needs claims.view_pii")


def _escape_like(text: str) -> str:
    # The search text is bound as a parameter; escaping only stops `%` and `_` acting as wildcards.
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _queue_query(served: serving.Serving, filters: QueueFilters, actor: Actor, dialect: str) -> Select:  # type: ignore[type-arg]
    query = (
        select(Prediction, Claim, User.username, Explanation.reasons)
        .join(Claim, Claim.id == Prediction.claim_id)
        .outerjoin(User, User.id == Claim.assigned_to_id)
        .outerjoin(Explanation, Explanation.prediction_id == Prediction.id)
        .where(served.served())
    )
    if filters.bands:
        query = query.where(Prediction.band.in_(filters.bands))
    # SIU referrals are few, but SQLite's planner knows only the average status's share.
    few_statuses = bool(filters.statuses) and set(filters.statuses) <= {SIU_STATUS}
    if filters.statuses:
        status = Claim.status.in_(filters.statuses)
        query = query.where(
            func.likelihood(status, literal_column("0.001")) if few_statuses and dialect == "sqlite" else status
        )
    for segment, values in filters.segments:
        if values:
            query = query.where(claim_store.column(segment).in_(values))
    if filters.assigned_to_me:
        query = query.where(Claim.assigned_to_id == actor.user_id)
    for bound in (
        Claim.report_date >= filters.reported_from if filters.reported_from else None,
        Claim.report_date <= filters.reported_to if filters.reported_to else None,
    ):
        if bound is not None:
            # SQLite keeps no value histogram and guesses any date range is small, so it
            # sorts the whole range instead of walking the priority index (150 ms -> 2 ms).
            query = query.where(func.likelihood(bound, literal_column("0.9")) if dialect == "sqlite" else bound)
    if filters.search.strip():
        pattern = f"%{_escape_like(filters.search.strip())}%"
        texts = claim_store.columns(claim_store.text_columns())
        query = query.where(or_(*(column.ilike(pattern, escape="\\") for column in texts)) if texts else false())
        if not actor.may(Permission.VIEW_PII):
            # The text such a role sees has the claimant's own name and contact taken out
            # (`core.redaction`): a search must not find a claim by them either.
            columns = claim_store.columns(claim_store.personal())
            # coalesce: NOT (NULL LIKE ...) is NULL, which would drop a claim without a contact
            query = query.where(~or_(*(func.coalesce(c, "").ilike(pattern, escape="\\") for c in columns)))
    # For "assigned to me" the adjuster's few claims, and the few referred to SIU, are best
    # found through the claims indexes; `+ 0` stops the planner walking the priority index
    # instead (PostgreSQL, mine: 7 ms vs 0.5 s; SQLite, the SIU view of 1M claims: 0.2 ms vs 10 s).
    priority = Prediction.priority + 0 if filters.assigned_to_me or few_statuses else Prediction.priority
    return query.order_by(priority.desc(), Prediction.id.desc())


def queue(
    session: Session, *, actor: Actor, filters: QueueFilters | None = None, page: int = 0, page_size: int = 25
) -> QueuePage:
    """One page of the triage queue, highest priority first."""
    require(actor, Permission.VIEW_CLAIMS)
    if page < 0 or not 1 <= page_size <= MAX_PAGE_SIZE:
        raise InvalidInput(f"page must be >= 0 and page size between 1 and {MAX_PAGE_SIZE}")
    filters = filters or QueueFilters()
    _check_search(actor, filters)
    served = serving.serving(session)
    if served is None:
        return QueuePage([], page, page_size, False, None, ["No claim-risk champion yet: train and promote a model."])
    versions = {served.champion_id: served.champion_version, **dict(served.fallbacks)}
    settings = get_settings()
    today = clock.now().date()
    dialect_name = session.get_bind().dialect.name
    query = _queue_query(served, filters, actor, dialect_name).limit(page_size + 1).offset(page * page_size)
    segment_names = active_schema().segments
    rows = [
        QueueRow(
            claim_id=claim.id,
            claim_number=claim.claim_number,
            priority=prediction.priority,
            band=prediction.band,
            probability=prediction.probability,
            top_reason=_shown(reasons[0], claim, actor) if reasons else None,
            amount=claim.amount,
            segments=claim_store.values(claim, segment_names),
            report_date=claim.report_date,
            age_days=(today - claim.report_date).days,
            sla=sla_state((today - claim.report_date).days, settings.triage_sla_days, is_open=claim.is_open),
            status=claim.status,
            assigned_to=username,
            model_version=versions.get(prediction.model_version_id),
            from_previous_model=prediction.model_version_id != served.champion_id,
        )
        for prediction, claim, username, reasons in session.execute(query)
    ]
    notes = []
    if served.fallbacks:
        notes.append(
            f"Claim model v{served.champion_version} is rescoring the open claims; until it has, claims it has not "
            f"rescored show the prediction of v{served.fallback_version} (marked as the previous model)."
        )
    has_next = len(rows) > page_size
    last = not has_next and (rows or page == 0)  # a page past the end knows no total
    total = page * page_size + len(rows) if last else None
    return QueuePage(rows[:page_size], page, page_size, has_next, served.champion_version, notes, total)


@dataclass(frozen=True)
class Assignment:
    claim_id: int
    claim_number: str
    version: int


def take_next(session: Session, *, actor: Actor) -> Assignment | None:
    """Assign the highest-priority unassigned flagged claim to the actor; None when the
    queue is empty. Two adjusters asking at once never get the same claim: the
    assignment is a conditional UPDATE on the claim's version (and, on PostgreSQL,
    candidates another transaction has locked are skipped)."""
    require(actor, Permission.REVIEW_CLAIMS)
    if actor.user_id is None:
        raise InvalidInput("only a signed-in user can take claims")
    served = serving.serving(session)
    if served is None:
        return None
    candidates = (
        select(Claim.id, Claim.version, Claim.claim_number)
        .join(Prediction, Prediction.claim_id == Claim.id)
        .where(
            served.served(),
            Prediction.band.in_(FLAGGED),
            Claim.status == "new",
            Claim.assigned_to_id.is_(None),
        )
        .order_by(Prediction.priority.desc(), Prediction.id.desc())
    )
    for _ in range(TAKE_NEXT_ATTEMPTS):
        # SQLite: after a lost race this transaction holds the write lock, so the top is fresh
        row = session.execute(dialect.skip_locked(session, candidates.limit(1), of=Claim)).first()
        if row is None:
            return None
        claim_id, version, claim_number = row
        taken = session.execute(
            update(Claim)
            .where(Claim.id == claim_id, Claim.version == version, Claim.assigned_to_id.is_(None))
            .values(assigned_to_id=actor.user_id, status="in_review", version=version + 1)
        )
        if rows_changed(taken) == 1:
            audit.record(
                session,
                actor=actor,
                action="claim.assigned",
                entity_type="claim",
                entity_id=claim_id,
                details={"claim_number": claim_number, "assigned_to": actor.username, "how": "take_next"},
            )
            return Assignment(claim_id, claim_number, version + 1)
    return None


def age_priorities(session: Session, *, actor: Actor, today: date | None = None) -> int:
    """Bring the waiting part of priority up to `today` (default: today) for every open
    claim's serving prediction; returns how many changed. Reads first and writes only
    the priorities that changed, at the end (on SQLite the write lock is held briefly)."""
    require(actor, Permission.RUN_SCORING)
    served = serving.serving(session)
    if served is None:
        return 0
    today, settings = today or clock.now().date(), get_settings()
    names = priority_reads()
    reads = claim_store.columns(names)
    rows = session.execute(
        select(Prediction.id, Prediction.probability, Prediction.priority, *reads)
        .join(Claim, Claim.id == Prediction.claim_id)
        .where(Claim.is_open, served.served())
        .execution_options(yield_per=AGE_READ_ROWS)
    ).mappings()
    changed = []
    for row in rows:
        aged = priority_of(row["probability"], row, today, settings, names)
        if aged != row["priority"]:
            changed.append({"id": row["id"], "priority": aged})
    if changed:
        session.execute(update(Prediction), changed)
        details = {"predictions": len(changed), "as_of": today.isoformat()}
        audit.record(session, actor=actor, action="triage.priorities_aged", entity_type="model_version",
                     entity_id=served.champion_id, details=details)  # fmt: skip
    return len(changed)
