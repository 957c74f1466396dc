"""Stored SHAP explanations: the worker explains flagged claims in the background
(`explain_pending`), a reviewer's request explains one on demand (`explain_claim`), and
`global_importance` averages what is stored. Computing one explanation is `core.explain`'s;
this module decides which predictions get one, stores it once per prediction and reads
them back.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Select, exists, func, select
from sqlalchemy.orm import Session, sessionmaker

from core import audit, bands, claim_store, registry, serving
from core.auth import Actor, Permission, require
from core.config import get_settings
from core.errors import InvalidInput
from core.explain import Explainer, Explanation
from core.modeling.inference import message_probabilities
from core.schema import active_schema
from core.serving import ModelCache, load_version
from core.tasks import Task
from db import dialect
from db.models import Claim, Message, ModelVersion, Prediction
from db.models import Explanation as ExplanationRow

EXPLAIN_BATCH = 16  # explanations per transaction


def explain_pending(
    sessions: sessionmaker[Session], *, actor: Actor, models: ModelCache | None = None, limit: int | None = None,
    on_chunk: Callable[[str, int], None] | None = None, device: str | None = None,
) -> int:  # fmt: skip
    """Explain flagged (high/medium) predictions of the champion that have none: open
    claims first (adjusters work on those; closed ones are history for the global
    explanations), highest priority first. The model is loaded only when there is
    something to explain."""
    require(actor, Permission.RUN_SCORING)
    models = models or ModelCache(device)
    done = 0
    while limit is None or done < limit:
        with sessions() as session, session.begin():
            version = registry.champion(session, Task.CLAIM_RISK)
            if version is None:
                return done
            missing = ~exists().where(ExplanationRow.prediction_id == Prediction.id)
            query = (
                select(Prediction.id, Claim.id.label("claim_id"), *claim_store.columns(active_schema().model_inputs))
                .join(Claim, Claim.id == Prediction.claim_id)
                .where(Prediction.model_version_id == version.id, Prediction.band.in_(bands.FLAGGED), missing)
                .order_by(Claim.is_open.desc(), Prediction.priority.desc(), Prediction.id)
                .limit(EXPLAIN_BATCH if limit is None else min(EXPLAIN_BATCH, limit - done))
            )
            query = dialect.skip_locked(session, query, of=Prediction)
            rows = session.execute(query).mappings().all()
            if not rows:
                return done
            explanations = Explainer(models.get(version)).explain_many(dict(row) for row in rows)
            for row, explanation in zip(rows, explanations, strict=True):
                store_explanation(session, prediction_id=int(row["id"]), explanation=explanation)
            audit.record(session, actor=actor, action="explanations.written", entity_type="model_version",
                         entity_id=version.id, details={"claims": [int(row["claim_id"]) for row in rows]})  # fmt: skip
            done += len(rows)
        if on_chunk:
            on_chunk("explanations", done)
    return done


def store_explanation(session: Session, *, prediction_id: int, explanation: Explanation) -> ExplanationRow:
    values = {
        "prediction_id": prediction_id, "method": explanation.method, "parameters": explanation.parameters,
        "base_value": explanation.base_value, "output_value": explanation.output_value,
        "attributions": explanation.attributions(), "reasons": explanation.reasons,
    }  # fmt: skip
    session.execute(
        dialect.insert_for(session)(ExplanationRow)
        .values(values)
        .on_conflict_do_nothing(index_elements=["prediction_id"])
    )
    row = session.scalar(select(ExplanationRow).where(ExplanationRow.prediction_id == prediction_id))
    assert row is not None
    return row


def explain_claim(session: Session, *, actor: Actor, claim_id: int, device: str | None = None) -> ExplanationRow:
    """On demand: the stored explanation of the claim's serving prediction (the champion's,
    or mid-change the outgoing model's: see core.serving), computing it if missing."""
    require(actor, Permission.EXPLAIN)
    served = serving.serving(session)
    if served is None:
        raise InvalidInput("no champion claim model")
    prediction = session.scalar(select(Prediction).where(Prediction.claim_id == claim_id, served.served()))
    if prediction is None:
        raise InvalidInput(f"claim {claim_id} has no prediction yet; the worker scores it shortly")
    version = session.get(ModelVersion, prediction.model_version_id)
    assert version is not None
    existing = session.scalar(select(ExplanationRow).where(ExplanationRow.prediction_id == prediction.id))
    if existing is not None:
        return existing
    claim = session.get(Claim, claim_id)
    assert claim is not None
    loaded = load_version(version, device or get_settings().resolved_device())
    explanation = Explainer(loaded).explain(claim_store.values(claim, active_schema().model_inputs))
    row = store_explanation(session, prediction_id=prediction.id, explanation=explanation)
    audit.record(session, actor=actor, action="explanation.computed", entity_type="claim", entity_id=claim_id)
    return row


def explain_message(session: Session, *, actor: Actor, message_id: int, device: str | None = None) -> Explanation:
    """On demand: word-level SHAP values of the sentiment champion's predicted label for one message."""
    require(actor, Permission.EXPLAIN)
    version = registry.champion(session, Task.SENTIMENT)
    message = session.get(Message, message_id)
    if version is None or message is None:
        raise InvalidInput("no sentiment champion or no such message")
    loaded = load_version(version, device or get_settings().resolved_device())
    probabilities = message_probabilities(loaded, pd.DataFrame([{"text": message.text}]))[0]
    return Explainer(loaded).explain({"text": message.text}, target_class=int(np.argmax(probabilities)))


@dataclass
class GlobalImportance:
    claims: int  # stored explanations averaged over
    fields: dict[str, float]  # mean |SHAP| per field
    words: list[tuple[str, float, int]]  # (word, mean SHAP, occurrences), strongest first
    # What the explanations cover: only flagged claims are explained routinely (others
    # only when someone asks), so the averages describe the flagged part of the book.
    scored: int = 0  # claims in the selection that the champion scored
    flagged: int = 0  # of those, in the flagged bands
    explained_flagged: int = 0  # of `claims`, explanations of flagged claims


def global_importance(
    session: Session,
    *,
    actor: Actor,
    since: Any = None,
    until: Any = None,
    segment: tuple[str, str] | None = None,
    top_words: int = 25,
) -> GlobalImportance:
    """Mean |SHAP| per field and the words that push scores most, over stored explanations,
    with how many of the selection's scored and flagged claims they cover; `segment`
    (a schema segment and one of its values) narrows the selection."""
    require(actor, Permission.VIEW_MODELS)
    champion = registry.champion(session, Task.CLAIM_RISK)

    def selected(query: Select[*tuple[Any, ...]]) -> Select[*tuple[Any, ...]]:
        # One model's view: explanations of earlier versions would count claims twice.
        query = query.join(Claim, Claim.id == Prediction.claim_id).where(
            Prediction.model_version_id == dialect.id_or_none(champion)
        )
        if since is not None:
            query = query.where(Claim.report_date >= since)
        if until is not None:
            query = query.where(Claim.report_date <= until)
        if segment is not None:
            query = query.where(claim_store.column(segment[0]) == segment[1])
        return query

    counted = select(Prediction.band, func.count()).group_by(Prediction.band)
    per_band: dict[str, int] = {band: n for band, n in session.execute(selected(counted))}
    query = selected(
        select(ExplanationRow.attributions, Prediction.band).join(
            Prediction, Prediction.id == ExplanationRow.prediction_id
        )
    )
    field_sums: dict[str, float] = {}
    word_stats: dict[str, list[float]] = {}
    count = explained_flagged = 0
    for attributions, band in session.execute(query):
        count += 1
        explained_flagged += band in bands.FLAGGED
        for name, value in attributions["fields"].items():
            field_sums[name] = field_sums.get(name, 0.0) + abs(value)
        for word, value in attributions["words"]:
            key = word.lower().strip(".,;:!?\"'()")
            if key:
                word_stats.setdefault(key, []).append(value)
    fields = {name: total / count for name, total in sorted(field_sums.items(), key=lambda x: -x[1])} if count else {}
    ranked = sorted(((w, float(np.mean(v)), len(v)) for w, v in word_stats.items() if len(v) >= 3),
                    key=lambda item: -abs(item[1]))  # fmt: skip
    return GlobalImportance(
        claims=count, fields=fields, words=ranked[:top_words], scored=sum(per_band.values()),
        flagged=sum(n for band, n in per_band.items() if band in bands.FLAGGED), explained_flagged=explained_flagged,
    )  # fmt: skip
