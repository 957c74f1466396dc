"""Scoring into SQL: every claim and message gets a prediction from the current champion.

Claims are streamed in chunks by id (never the whole table in memory), scored in
length-sorted batches and written with bulk inserts; a claim is scored at most once per
model version (unique constraint, and `ON CONFLICT DO NOTHING` as the last word). Several
scorers can run at once: on PostgreSQL each chunk is claimed with `FOR UPDATE SKIP
LOCKED`, so scorers take disjoint chunks; on SQLite writes are serialised anyway.

Risk bands are `core.bands`' rule over the thresholds stored with the version.

Each prediction's triage priority is `core.triage.priority`'s, at the scoring time.
"""

from __future__ import annotations

import hashlib
import json
import queue
import threading
import time
from collections.abc import Callable, Generator
from contextlib import closing
from dataclasses import dataclass
from typing import Any, cast

import numpy as np
import pandas as pd
from sqlalchemy import ColumnElement, Select, exists, select, update
from sqlalchemy.orm import Session, sessionmaker

from core import audit, bands, claim_store, clock, registry, serving, triage
from core.auth import Actor, Permission, require
from core.config import Settings, get_settings
from core.errors import InvalidInput
from core.explanations import explain_pending
from core.modeling.inference import (
    TokenIds,
    claim_probabilities,
    claim_texts,
    message_probabilities,
    message_texts,
    tokenize,
)
from core.modeling.models import LoadedModel
from core.schema import active_schema
from core.serving import ModelCache
from core.tasks import Task
from db import dialect
from db.models import (
    Claim,
    Message,
    MessagePrediction,
    ModelVersion,
    Prediction,
    Review,
    RunStatus,
    ScoringRun,
)
from db.models import Explanation as ExplanationRow

# Rows per chunk (and transaction). A GPU scores a CPU chunk in milliseconds, so it takes
# bigger chunks: fewer round trips per claim, and more texts of each exact token length.
CHUNK_SIZE = 512
GPU_CHUNK_SIZE = 8192
# Scorers on a GPU claim and tokenise the next chunk on a thread while the model runs
# (`score(read_ahead=...)`); a GPU would otherwise wait on each chunk's reading and
# tokenising. On the 2-core CPU the thread has nothing to gain, since the model already
# uses both cores (bench_score_db, 8,000 claims and their messages: 536 rows/s inline,
# 538 reading ahead), so the CPU reads inline, the simpler path.


@dataclass
class ScoringResult:
    run_id: int
    claims: int = 0
    messages: int = 0
    explanations: int = 0
    seconds: float = 0.0


def input_hash(claim: dict[str, Any], inputs: tuple[str, ...] | None = None) -> str:
    """Fingerprint of exactly what the model read (`inputs`: the schema's model inputs, looked
    up once by a caller that hashes many claims), to tell later whether a claim changed."""
    payload = json.dumps({k: str(claim[k]) for k in inputs or active_schema().model_inputs}, sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()


def score(
    sessions: sessionmaker[Session], *, actor: Actor, rescore_open: bool = False, explain_limit: int | None = None,
    chunk_size: int | None = None, device: str | None = None, worker_id: str = "scorer",
    on_chunk: Callable[[str, int], None] | None = None, read_ahead: bool | None = None,
    limit: int | None = None, should_stop: Callable[[], bool] | None = None, models: ModelCache | None = None,
) -> ScoringResult:  # fmt: skip
    """Score what the champions have not scored, open claims first; explain flagged claims
    (up to `explain_limit`).

    `limit` scores at most about that many claims and messages (whole chunks); `should_stop`
    is asked between chunks and ends the run early when it says so (the worker yields to
    training runs); `models` reuses loaded champions. `read_ahead` claims and tokenises the
    next chunk on a thread (default: on a GPU only).
    """
    require(actor, Permission.RUN_SCORING)
    settings = get_settings()
    device = device or settings.resolved_device()
    on_gpu = device.startswith("cuda")
    chunk_size = chunk_size or (GPU_CHUNK_SIZE if on_gpu else CHUNK_SIZE)
    read_ahead = on_gpu if read_ahead is None else read_ahead
    with sessions() as session, session.begin():
        claim_version = registry.champion(session, Task.CLAIM_RISK)
        sentiment_version = registry.champion(session, Task.SENTIMENT)
        if claim_version is None and sentiment_version is None:
            raise InvalidInput(
                "no claim model serves yet: train one (claimlens train claim), or promote a registered one "
                "(claimlens models list, then models promote)"
            )
        # Load before writing anything: a missing model folder must leave no trace but the error.
        models = models or ModelCache(device)
        claim_model = models.get(claim_version) if claim_version else None
        sentiment_model = models.get(sentiment_version) if sentiment_version else None
        run = ScoringRun(worker_id=worker_id, rescore_all=rescore_open, status=RunStatus.RUNNING,
                         claim_model_version_id=claim_version.id if claim_version else None,
                         sentiment_model_version_id=sentiment_version.id if sentiment_version else None)  # fmt: skip
        session.add(run)
        session.flush()
        result = ScoringResult(run_id=run.id)
    started = time.perf_counter()
    budget = _Budget(limit, should_stop)
    try:
        if claim_model and claim_version:
            if rescore_open:
                _forget_open_predictions(sessions, claim_version.id)
            result.claims = _score_claims(
                sessions, claim_model, claim_version, settings, chunk_size, on_chunk, read_ahead, budget
            )
            with sessions() as session, session.begin():
                serving.finish_transition(session, actor=actor)
            if not budget.stopped:
                result.explanations = explain_pending(
                    sessions, actor=actor, models=models, limit=explain_limit, on_chunk=on_chunk
                )
        if sentiment_model and sentiment_version and not budget.stopped:
            result.messages = _score_messages(
                sessions, sentiment_model, sentiment_version, chunk_size, on_chunk, read_ahead, budget.fresh()
            )
    except BaseException as error:
        failure = f"{type(error).__name__}: {error}"
        _finish(sessions, run.id, result, time.perf_counter() - started, failure)
        with sessions() as session, session.begin():
            details = {"error": failure[:500], "claims": result.claims, "messages": result.messages}
            audit.record(session, actor=actor, action="scoring.failed", entity_type="scoring_run", entity_id=run.id,
                         details=details)  # fmt: skip
        raise
    result.seconds = time.perf_counter() - started
    _finish(sessions, run.id, result, result.seconds, None)
    with sessions() as session, session.begin():
        audit.record(session, actor=actor, action="scoring.run", entity_type="scoring_run", entity_id=run.id,
                     details={"claims": result.claims, "messages": result.messages,
                              "explanations": result.explanations})  # fmt: skip
    return result


def pending(session: Session) -> bool:
    """Whether a champion has claims or messages left to score (cheap: stops at the first)."""
    claim_version = registry.champion(session, Task.CLAIM_RISK)
    sentiment_version = registry.champion(session, Task.SENTIMENT)
    if claim_version is not None:
        scored = exists().where(Prediction.claim_id == Claim.id, Prediction.model_version_id == claim_version.id)
        if session.scalar(select(Claim.id).where(~scored).limit(1)) is not None:
            return True
    if sentiment_version is not None:
        scored = exists().where(
            MessagePrediction.message_id == Message.id, MessagePrediction.model_version_id == sentiment_version.id
        )
        if session.scalar(select(Message.id).where(~scored).limit(1)) is not None:
            return True
    return False


def _finish(
    sessions: sessionmaker[Session], run_id: int, result: ScoringResult, seconds: float, error: str | None
) -> None:
    with sessions() as session, session.begin():
        session.execute(
            update(ScoringRun).where(ScoringRun.id == run_id).values(
                status=RunStatus.FAILED if error else RunStatus.SUCCEEDED, error=error, claims_scored=result.claims,
                messages_scored=result.messages, explanations=result.explanations,
                finished_at=clock.now(), duration_s=round(seconds, 3),
            )
        )  # fmt: skip


@dataclass
class _Chunk:
    """Rows claimed in an open transaction, as a frame, with their texts' token ids."""

    session: Session
    rows: pd.DataFrame
    token_ids: TokenIds


def _claimed_chunks(
    sessions: sessionmaker[Session], query_after: Callable[[int], Select[Any]], loaded: LoadedModel,
    texts: Callable[[pd.DataFrame], list[str]], lock: type,
) -> Generator[_Chunk]:  # fmt: skip
    """Unscored rows chunk by chunk, each chunk in its own open transaction, tokenised.

    On PostgreSQL a chunk's rows stay locked (`FOR UPDATE SKIP LOCKED`) until whoever
    receives the chunk commits or closes its session, so concurrent scorers skip them.
    """
    after = 0
    while True:
        session = sessions()
        try:
            session.begin()
            query = dialect.skip_locked(session, query_after(after), of=lock)
            rows = pd.DataFrame(session.execute(query).mappings().all())
            if rows.empty:
                session.close()
                return
            after = int(rows["id"].iat[-1])
            token_ids = tokenize(loaded, texts(rows))
        except BaseException:
            session.close()
            raise
        yield _Chunk(session, rows, token_ids)


_END = object()


def _read_ahead(chunks: Generator[_Chunk]) -> Generator[_Chunk]:
    """Claim and tokenise the next chunk on a thread while the caller scores this one.

    Reading and tokenising leave the model's critical path (on a GPU they would otherwise
    idle it between chunks). One chunk ahead at most: the thread claims the next chunk
    only once the caller has taken the previous one, so no more rows are locked than the
    chunk being scored and the one after it. Whatever the caller does not take is rolled
    back. Close the iterator (`contextlib.closing`) to stop the thread.
    """
    handoff: queue.Queue[Any] = queue.Queue()  # empty whenever the thread puts: it waits its turn
    turn = threading.Semaphore(1)  # released by the caller each time it takes a chunk
    stopping = threading.Event()

    def my_turn() -> bool:
        while not stopping.is_set():
            if turn.acquire(timeout=0.05):
                return True
        return False

    def produce() -> None:
        try:
            while my_turn():
                chunk = next(chunks, None)
                handoff.put(_END if chunk is None else chunk)
                if chunk is None:
                    return
        except BaseException as error:  # handed to the caller, who raises it
            handoff.put(error)
        finally:
            chunks.close()

    reader = threading.Thread(target=produce, name="scoring-read-ahead", daemon=True)
    reader.start()
    try:
        while (item := handoff.get()) is not _END:
            if isinstance(item, BaseException):
                raise item
            turn.release()
            yield item
    finally:
        stopping.set()
        try:
            reader.join()
        finally:
            while not handoff.empty():
                left = handoff.get_nowait()
                if isinstance(left, _Chunk):
                    left.session.close()


@dataclass
class _Budget:
    """What a run may still score: at most `limit` rows of a kind, until `should_stop` says stop."""

    limit: int | None = None
    should_stop: Callable[[], bool] | None = None
    used: int = 0
    stopped: bool = False  # asked to stop: the run ends after the chunk in hand

    def spend(self, rows: int) -> bool:
        """Count a finished chunk; whether the run may take another."""
        self.used += rows
        if self.should_stop is not None and self.should_stop():
            self.stopped = True
        return not self.stopped and (self.limit is None or self.used < self.limit)

    def fresh(self) -> _Budget:
        """The same limits for the next kind of row."""
        return _Budget(self.limit, self.should_stop, stopped=self.stopped)


def _score_unscored(
    sessions: sessionmaker[Session], *, entity: type[Any], predictions: type[Any], key: str, version_id: int,
    columns: list[Any],
    loaded: LoadedModel, texts: Callable[[pd.DataFrame], list[str]],
    to_values: Callable[[pd.DataFrame, TokenIds], list[dict[str, Any]]], chunk_size: int, kind: str,
    on_chunk: Callable[[str, int], None] | None, read_ahead: bool, budget: _Budget,
    first: ColumnElement[bool] | None = None,
) -> int:  # fmt: skip
    """Score the rows of `entity` without a prediction from `version_id`, one chunk per
    transaction: those matching `first` before the rest."""
    unscored = ~exists().where(getattr(predictions, key) == entity.id, predictions.model_version_id == version_id)
    scored = 0
    for condition in ([first] if first is not None else []) + [None]:

        def query_after(after: int, condition: ColumnElement[bool] | None = condition) -> Select[Any]:
            query = select(entity.id, *columns).where(unscored, entity.id > after)
            if condition is not None:
                query = query.where(condition)
            return query.order_by(entity.id).limit(chunk_size)

        chunks = _claimed_chunks(sessions, query_after, loaded, texts, entity)
        with closing(_read_ahead(chunks) if read_ahead else chunks) as stream:  # on any exit: unclaim what is left
            for chunk in stream:
                with chunk.session as session:  # closing without commit rolls back
                    values = to_values(chunk.rows, chunk.token_ids)
                    # A list of parameter sets: SQLAlchemy pages it under the driver's parameter limit.
                    session.execute(
                        dialect.insert_for(session)(predictions).on_conflict_do_nothing(
                            index_elements=[key, "model_version_id"]
                        ),
                        values,
                    )
                    session.commit()
                scored += len(values)
                if on_chunk:
                    on_chunk(kind, scored)
                if not budget.spend(len(values)):
                    return scored
    return scored


def _score_claims(
    sessions: sessionmaker[Session], loaded: LoadedModel, version: ModelVersion, settings: Settings, chunk_size: int,
    on_chunk: Callable[[str, int], None] | None, read_ahead: bool, budget: _Budget,
) -> int:  # fmt: skip
    thresholds = bands.stored(version.parameters)
    inputs, reads = active_schema().model_inputs, triage.priority_reads()  # once per run, not per claim

    def to_values(rows: pd.DataFrame, token_ids: TokenIds) -> list[dict[str, Any]]:
        probabilities = claim_probabilities(loaded, rows, token_ids=token_ids)
        today = clock.now().date()
        return [
            {"claim_id": int(row["id"]), "model_version_id": version.id, "probability": float(p),
             "band": bands.band_for(float(p), thresholds), "input_hash": input_hash(row, inputs),
             "priority": triage.priority_of(float(p), row, today, settings, reads)}
            for row, p in zip(rows.to_dict("records"), probabilities, strict=True)
        ]  # fmt: skip

    return _score_unscored(
        sessions, entity=Claim, predictions=Prediction, key="claim_id", version_id=version.id,
        columns=claim_store.columns(dict.fromkeys((*inputs, *reads))),
        loaded=loaded, texts=claim_texts, to_values=to_values,
        chunk_size=chunk_size, kind="claims", on_chunk=on_chunk, read_ahead=read_ahead, budget=budget,
        first=cast("ColumnElement[bool]", Claim.is_open),  # the queue needs open claims; decided: monitoring
    )  # fmt: skip


def _forget_open_predictions(sessions: sessionmaker[Session], version_id: int) -> None:
    """`--all`: drop this version's predictions of claims nobody has reviewed, so they are scored afresh.

    Claims with a review keep the prediction (and explanation) they were decided on.
    """
    with sessions() as session, session.begin():
        reviewed = select(Review.claim_id)
        stale = select(Prediction.id).where(Prediction.model_version_id == version_id,
                                            Prediction.claim_id.not_in(reviewed))  # fmt: skip
        ids = list(session.scalars(stale))
        for batch in dialect.chunks(ids):
            session.query(ExplanationRow).filter(ExplanationRow.prediction_id.in_(batch)).delete()
            session.query(Prediction).filter(Prediction.id.in_(batch)).delete()


def _score_messages(
    sessions: sessionmaker[Session], loaded: LoadedModel, version: ModelVersion, chunk_size: int,
    on_chunk: Callable[[str, int], None] | None, read_ahead: bool, budget: _Budget,
) -> int:  # fmt: skip
    labels = loaded.meta.labels

    def to_values(rows: pd.DataFrame, token_ids: TokenIds) -> list[dict[str, Any]]:
        probabilities = message_probabilities(loaded, rows, token_ids=token_ids)
        return [
            {"message_id": int(message_id), "model_version_id": version.id, "label": labels[int(np.argmax(p))],
             "probabilities": {label: round(float(q), 6) for label, q in zip(labels, p, strict=True)}}
            for message_id, p in zip(rows["id"], probabilities, strict=True)
        ]  # fmt: skip

    return _score_unscored(
        sessions, entity=Message, predictions=MessagePrediction, key="message_id", version_id=version.id,
        columns=[Message.text], loaded=loaded, texts=message_texts, to_values=to_values, chunk_size=chunk_size,
        kind="messages", on_chunk=on_chunk, read_ahead=read_ahead, budget=budget,
    )  # fmt: skip
