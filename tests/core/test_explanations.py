"""Stored SHAP explanations: written in the background for flagged claims, on demand for
one, averaged into global importance; on a seeded database with tiny models."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from core import claim_store, explanations, scoring
from core.auth import cli_actor
from core.explain import Explainer
from core.modeling.models import load_model
from core.schema import active_schema
from db.models import AuditLog, Claim, Explanation, Message, ModelVersion, Prediction

ADMIN = cli_actor()


def test_flagged_claims_get_explanations_that_add_up_to_the_stored_probability(world: sessionmaker[Session]) -> None:
    result = scoring.score(world, actor=ADMIN, explain_limit=6, device="cpu")
    assert result.explanations == 6
    with world() as session:
        rows = session.execute(
            select(Explanation, Prediction).join(Prediction, Prediction.id == Explanation.prediction_id)
        ).all()
        assert len(rows) == 6
        for explanation, prediction in rows:
            assert prediction.band in ("high", "medium")
            total = explanation.base_value + sum(explanation.attributions["fields"].values())
            total += sum(value for _, value in explanation.attributions["words"])
            assert total == pytest.approx(prediction.probability, abs=1e-3)
            assert len(explanation.attributions["fields"]) == 12
            assert explanation.method == "partition_shap" and explanation.parameters["max_evals"] > 0
            assert len(explanation.reasons) == 5
            assert all(re.search(r"\([+-]\d\.\d\d\)$", reason) for reason in explanation.reasons)  # signed share


def test_open_claims_are_explained_before_settled_ones(world: sessionmaker[Session]) -> None:
    scoring.score(world, actor=ADMIN, explain_limit=0, device="cpu")
    flagged = Prediction.band.in_(("high", "medium"))
    with world() as session, session.begin():
        by_priority = session.scalars(select(Prediction.claim_id).where(flagged).order_by(Prediction.priority.desc()))
        ids = list(by_priority)
        settled = ids[: len(ids) // 2]  # the highest-priority half is history
        session.execute(update(Claim).where(Claim.id.in_(settled)).values(status="closed"))
    assert explanations.explain_pending(world, actor=ADMIN, limit=len(ids) - len(settled)) == len(ids) - len(settled)
    with world() as session:
        explained = set(session.scalars(select(Prediction.claim_id).join(Explanation)))
    assert explained == set(ids) - set(settled)
    with world() as session:  # the explanations the worker writes are in the audit log, claim by claim
        logged = session.scalars(select(AuditLog.details).where(AuditLog.action == "explanations.written")).all()
    assert sorted(claim for details in logged for claim in details["claims"]) == sorted(explained)


def test_words_are_whole_words_from_the_narrative(world: sessionmaker[Session]) -> None:
    scoring.score(world, actor=ADMIN, explain_limit=1, device="cpu")
    with world() as session:
        explanation, claim = session.execute(
            select(Explanation, Claim)
            .join(Prediction, Prediction.id == Explanation.prediction_id)
            .join(Claim, Claim.id == Prediction.claim_id)
        ).one()
        words = [w for w, _ in explanation.attributions["words"]]
        assert words == claim.fields["narrative"].split()[: len(words)]
        assert not any(w.startswith("##") for w in words)


def test_the_same_claim_explained_twice_gives_the_same_values(world: sessionmaker[Session]) -> None:
    scoring.score(world, actor=ADMIN, explain_limit=0, device="cpu")
    with world() as session:
        claim_id = session.scalar(select(Prediction.claim_id).order_by(Prediction.priority.desc()))
        first = explanations.explain_claim(session, actor=ADMIN, claim_id=claim_id, device="cpu")
        stored = (first.base_value, first.attributions)
        session.rollback()
    with world() as session:
        claim = session.get(Claim, claim_id)
        version = session.scalars(select(ModelVersion).where(ModelVersion.task == "claim_risk")).one()
        loaded = load_model(version.artifact_path)
        again = Explainer(loaded).explain(claim_store.values(claim, active_schema().model_inputs))
    assert again.base_value == pytest.approx(stored[0], abs=1e-9)
    assert again.fields == pytest.approx(stored[1]["fields"], abs=1e-9)
    assert [v for _, v in again.words] == pytest.approx([v for _, v in stored[1]["words"]], abs=1e-9)


def test_claims_explained_on_threads_get_the_values_each_gets_alone(world: sessionmaker[Session]) -> None:
    with world() as session:
        claims = session.scalars(select(Claim).order_by(Claim.id).limit(6)).all()
        rows = [claim_store.values(claim, active_schema().model_inputs) for claim in claims]
        version = session.scalars(select(ModelVersion).where(ModelVersion.task == "claim_risk")).one()
    explainer = Explainer(load_model(version.artifact_path))
    together = explainer.explain_many(rows, threads=3)
    alone = [explainer.explain(row) for row in rows]
    assert len(together) == len(rows)
    for mine, reference in zip(together, alone, strict=True):  # same order, same values
        assert mine.output_value == pytest.approx(reference.output_value, abs=1e-6)
        assert mine.fields == pytest.approx(reference.fields, abs=1e-6)
        assert [w for w, _ in mine.words] == [w for w, _ in reference.words]
        assert [v for _, v in mine.words] == pytest.approx([v for _, v in reference.words], abs=1e-6)
        assert mine.reasons == reference.reasons


def test_global_importance_and_message_explanations(world: sessionmaker[Session]) -> None:
    scoring.score(world, actor=ADMIN, explain_limit=4, device="cpu")
    with world() as session:
        overall = explanations.global_importance(session, actor=ADMIN)
        assert overall.claims == 4 and len(overall.fields) == 12
        assert list(overall.fields.values()) == sorted(overall.fields.values(), reverse=True)
        auto = explanations.global_importance(session, actor=ADMIN, segment=("line_of_business", "auto"))
        assert auto.claims <= 4
        message_id = session.scalar(select(Message.id))
        explanation = explanations.explain_message(session, actor=ADMIN, message_id=message_id, device="cpu")
        message = session.get(Message, message_id)
        assert [w for w, _ in explanation.words] == message.text.split()[: len(explanation.words)]
        assert explanation.fields == {}
