"""Which claim-risk predictions serve the queue and the review page, and how far the
champions' background scoring has got.

A new champion (promoted, or restored by a rollback) has scored nothing yet. Until it
has scored every open claim, the champion it replaced keeps serving the claims it has
not rescored (`ModelVersion.serving_fallback_id`): the queue never empties on a model
change, and rows served by the outgoing model say so. The worker rescores the open
claims first and then clears the fallback (`finish_transition`). Decided claims keep the
prediction they were decided on; nothing here changes them.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import ColumnElement, and_, exists, func, or_, select, update
from sqlalchemy.orm import Session, aliased

from core import audit, registry, schema
from core.auth import Actor, Permission, require
from core.bands import FLAGGED
from core.config import get_settings
from core.errors import InvalidInput
from core.modeling.models import LoadedModel, load_model
from core.schema import Schema, active_schema
from core.tasks import Task
from db import dialect
from db.models import (
    Claim,
    Explanation,
    Message,
    MessagePrediction,
    ModelVersion,
    Prediction,
)

# How far back a chain of model changes, each before the last one's rescoring finished,
# is followed; older fallbacks than this have long been rescored in practice.
MAX_FALLBACKS = 3


@dataclass(frozen=True)
class Serving:
    """The claim-risk champion and, during a model change, the outgoing models that still
    serve the open claims the champion has not rescored, newest first."""

    champion_id: int
    champion_version: int
    fallbacks: tuple[tuple[int, int], ...] = ()  # (model version id, version number)

    @property
    def fallback_version(self) -> int | None:
        return self.fallbacks[0][1] if self.fallbacks else None

    def served(self, prediction: type[Prediction] = Prediction) -> ColumnElement[bool]:
        """The predictions that serve: the champion's, and for a claim the champion has not
        scored yet, that of the newest fallback that has."""
        ids = [self.champion_id, *(version_id for version_id, _ in self.fallbacks)]
        if len(ids) == 1:
            return prediction.model_version_id == self.champion_id
        levels = []
        for position, version_id in enumerate(ids):
            newer = aliased(Prediction)
            rescored = exists().where(newer.claim_id == prediction.claim_id, newer.model_version_id.in_(ids[:position]))
            levels.append(
                prediction.model_version_id == version_id
                if position == 0
                else and_(prediction.model_version_id == version_id, ~rescored)
            )
        return or_(*levels)


def serving(session: Session) -> Serving | None:
    """None when there is no claim-risk champion yet."""
    champion = registry.champion(session, Task.CLAIM_RISK)
    if champion is None:
        return None
    fallbacks: list[tuple[int, int]] = []
    seen = {champion.id}
    next_id = champion.serving_fallback_id
    while next_id is not None and next_id not in seen and len(fallbacks) < MAX_FALLBACKS:
        version = session.get(ModelVersion, next_id)
        if version is None:
            break
        fallbacks.append((version.id, version.version))
        seen.add(version.id)
        next_id = version.serving_fallback_id
    return Serving(champion_id=champion.id, champion_version=champion.version, fallbacks=tuple(fallbacks))


def open_claims_to_rescore(session: Session, version_id: int) -> int:
    """Open claims that this claim-risk version has not scored: what a promotion of it rescores."""
    return int(
        session.scalar(
            select(func.count(Claim.id)).where(
                Claim.is_open,
                ~exists().where(Prediction.claim_id == Claim.id, Prediction.model_version_id == version_id),
            )
        )
        or 0
    )


def rescoring_needed(session: Session, *, actor: Actor, version_id: int) -> int:
    """What making this version the claim-risk champion would rescore: the open claims it
    has not scored (0 for a sentiment model, whose predictions do not feed the queue)."""
    require(actor, Permission.VIEW_MODELS)
    version = session.get(ModelVersion, version_id)
    if version is None or version.task != Task.CLAIM_RISK:
        return 0
    return open_claims_to_rescore(session, version_id)


def finish_transition(session: Session, *, actor: Actor) -> int | None:
    """Stop serving the outgoing model once the champion has scored every open claim.

    Returns the version that stopped serving, or None when there was nothing to finish.
    """
    require(actor, Permission.RUN_SCORING)
    champion = registry.champion(session, Task.CLAIM_RISK)
    if champion is None or champion.serving_fallback_id is None:
        return None
    if open_claims_to_rescore(session, champion.id):
        return None
    fallback = session.get(ModelVersion, champion.serving_fallback_id)
    session.execute(update(ModelVersion).where(ModelVersion.id == champion.id).values(serving_fallback_id=None))
    audit.record(
        session, actor=actor, action="model.serving", entity_type="model_version", entity_id=champion.id,
        details={"task": champion.task, "version": champion.version,
                 "stopped_serving": fallback.version if fallback else None},
    )  # fmt: skip
    return fallback.version if fallback else None


@dataclass(frozen=True)
class TaskProgress:
    task: str
    version: int | None
    scored: int
    total: int

    @property
    def done(self) -> bool:
        return self.scored >= self.total


@dataclass(frozen=True)
class ScoringProgress:
    """How much of the book the champions have scored and explained, read from SQL."""

    claims: TaskProgress
    open_claims: TaskProgress
    messages: TaskProgress
    explained: int  # flagged champion predictions with a stored explanation
    flagged: int
    fallback_version: int | None  # the outgoing model still serving some open claims

    @property
    def done(self) -> bool:
        return self.claims.done and self.messages.done and self.explained >= self.flagged

    def lines(self) -> list[str]:
        """What is still running, in words (nothing when everything is scored and explained)."""
        out = []
        if self.fallback_version is not None and self.claims.version is not None:
            out.append(
                f"Claim model v{self.claims.version} is rescoring open claims: {self.open_claims.scored:,} of "
                f"{self.open_claims.total:,} done; v{self.fallback_version} serves the rest until then."
            )
        if not self.claims.done:
            out.append(f"Scoring claims: {self.claims.scored:,} of {self.claims.total:,}.")
        if not self.messages.done:
            out.append(f"Scoring messages: {self.messages.scored:,} of {self.messages.total:,}.")
        if self.explained < self.flagged:
            out.append(f"Explaining flagged claims: {self.explained:,} of {self.flagged:,}.")
        return out


def _count(session: Session, query) -> int:  # type: ignore[no-untyped-def]
    return int(session.scalar(query) or 0)


def scoring_progress(session: Session, *, actor: Actor) -> ScoringProgress:
    """Counts of what the claim-risk and sentiment champions have scored and explained."""
    require(actor, Permission.VIEW_CLAIMS)
    claim_champion = registry.champion(session, Task.CLAIM_RISK)
    sentiment_champion = registry.champion(session, Task.SENTIMENT)
    claim_id, sentiment_id = dialect.id_or_none(claim_champion), dialect.id_or_none(sentiment_champion)
    # Without a champion nothing is waiting to be scored (there is nothing to score with).
    total_claims = _count(session, select(func.count(Claim.id))) if claim_champion else 0
    total_open = _count(session, select(func.count(Claim.id)).where(Claim.is_open)) if claim_champion else 0
    scored = _count(session, select(func.count(Prediction.id)).where(Prediction.model_version_id == claim_id))
    open_scored = _count(
        session,
        select(func.count(Prediction.id))
        .join(Claim, Claim.id == Prediction.claim_id)
        .where(Prediction.model_version_id == claim_id, Claim.is_open),
    )
    flagged = select(func.count(Prediction.id)).where(
        Prediction.model_version_id == claim_id, Prediction.band.in_(FLAGGED)
    )
    explained = flagged.where(exists().where(Explanation.prediction_id == Prediction.id))
    messages = _count(session, select(func.count(Message.id)))
    messages_scored = _count(
        session, select(func.count(MessagePrediction.id)).where(MessagePrediction.model_version_id == sentiment_id)
    )
    fallback = (
        session.get(ModelVersion, claim_champion.serving_fallback_id)
        if claim_champion and claim_champion.serving_fallback_id
        else None
    )
    return ScoringProgress(
        claims=TaskProgress(Task.CLAIM_RISK, claim_champion.version if claim_champion else None, scored,
                            total_claims),
        open_claims=TaskProgress(Task.CLAIM_RISK, claim_champion.version if claim_champion else None,
                                 open_scored, total_open),
        messages=TaskProgress(Task.SENTIMENT, sentiment_champion.version if sentiment_champion else None,
                              messages_scored, messages if sentiment_champion else 0),
        explained=_count(session, explained),
        flagged=_count(session, flagged),
        fallback_version=fallback.version if fallback else None,
    )  # fmt: skip


def load_version(version: ModelVersion, device: str) -> LoadedModel:
    """A registered version's model folder, or a clear error naming the version: one that
    cannot be loaded, or a claim model that cannot read the active schema's claims (a
    field it reads was removed or retyped: train a new model on the new schema)."""
    try:
        loaded = load_model(version.artifact_path, device)
    except InvalidInput as error:
        raise InvalidInput(f"{version.task} v{version.version} cannot be loaded: {error}") from None
    if loaded.meta.task == Task.CLAIM_RISK:
        # A model saved before schemas was trained on the demo's.
        trained = Schema.model_validate(loaded.meta.schema) if loaded.meta.schema else schema.load(schema.DEMO_SCHEMA)
        active = active_schema()
        problems = active.compatible_with(trained)
        if problems:
            raise InvalidInput(
                f"{version.task} v{version.version} was trained on schema {trained.name!r} and "
                f"cannot read claims in the active schema {active.name!r}: {'; '.join(problems)}. "
                "Train a new model on this schema (claimlens train claim), or go back to the schema it was trained on"
            )
    return loaded


class ModelCache:
    """The champions' loaded models for a long-lived process (the worker): each version is
    loaded once, and a task's model is reloaded only when its champion changes."""

    def __init__(self, device: str | None = None) -> None:
        self.device = device
        self._loaded: dict[str, tuple[int, LoadedModel]] = {}
        self.loads = 0  # how many times a model was read from disk

    def get(self, version: ModelVersion) -> LoadedModel:
        held = self._loaded.get(version.task)
        if held is not None and held[0] == version.id:
            return held[1]
        self._loaded.pop(version.task, None)  # let the old champion go before loading the new one
        loaded = load_version(version, self.device or get_settings().resolved_device())
        self._loaded[version.task] = (version.id, loaded)
        self.loads += 1
        return loaded
