"""Scoring into SQL and stored SHAP explanations, on a seeded database with tiny models."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from core import bands, explanations, scoring
from core.auth import Actor, Role, cli_actor
from core.data import importing
from core.data.generator import GeneratorConfig
from core.data.seeding import generate_import_frame
from core.errors import InvalidInput, PermissionDenied
from db.models import (
    AuditLog,
    Claim,
    Message,
    MessagePrediction,
    ModelVersion,
    Prediction,
    Review,
    ScoringRun,
    User,
)
from db.session import engine_for
from tests.conftest import count, run_at_once

ADMIN = cli_actor()


def test_every_claim_and_message_gets_one_prediction_with_band_priority_and_hash(world: sessionmaker[Session]) -> None:
    result = scoring.score(world, actor=ADMIN, explain_limit=0, chunk_size=64, device="cpu")
    assert (result.claims, result.messages) == (300, count(world, Message))
    with world() as session:
        predictions = session.scalars(select(Prediction)).all()
        version = session.scalars(select(ModelVersion).where(ModelVersion.task == "claim_risk")).one()
        thresholds = version.parameters["thresholds"]
        for p in predictions:
            assert p.band == bands.band_for(p.probability, thresholds)
            assert 0 <= p.priority <= 100 and len(p.input_hash) == 64
        assert {p.claim_id for p in predictions} == set(session.scalars(select(Claim.id)))
        message = session.scalars(select(MessagePrediction)).first()
        assert message is not None and message.label in ("negative", "neutral", "positive")
        assert sum(message.probabilities.values()) == pytest.approx(1.0, abs=1e-4)
        run = session.get(ScoringRun, result.run_id)
        assert run is not None and run.status == "succeeded" and run.claims_scored == 300


def test_scoring_again_scores_nothing_new_but_new_imports_are_scored(world: sessionmaker[Session]) -> None:
    scoring.score(world, actor=ADMIN, explain_limit=0, device="cpu")
    again = scoring.score(world, actor=ADMIN, explain_limit=0, device="cpu")
    assert (again.claims, again.messages) == (0, 0)
    fresh = generate_import_frame(GeneratorConfig(claims=25, seed=99))
    with world() as session, session.begin():
        importing.import_claims(session, actor=ADMIN, frame=fresh, source="new.csv")
    assert scoring.score(world, actor=ADMIN, explain_limit=0, device="cpu").claims == 25
    assert count(world, Prediction) == 325


@pytest.mark.parametrize("narrative", ["", "Short.", "word " * 3000])
def test_empty_and_very_long_narratives_are_scored_and_explained(world: sessionmaker[Session], narrative: str) -> None:
    frame = generate_import_frame(GeneratorConfig(claims=1, seed=77))
    frame["narrative"] = narrative
    with world() as session, session.begin():
        importing.import_claims(session, actor=ADMIN, frame=frame, source="edge.csv")
    scoring.score(world, actor=ADMIN, explain_limit=0, device="cpu")
    with world() as session, session.begin():
        claim_id = session.scalar(select(Claim.id).where(Claim.claim_number == frame["claim_number"].iat[0]))
        explanation = explanations.explain_claim(session, actor=ADMIN, claim_id=claim_id, device="cpu")
        prediction = session.scalar(select(Prediction).where(Prediction.claim_id == claim_id))
        total = explanation.base_value + sum(explanation.attributions["fields"].values())
        total += sum(v for _, v in explanation.attributions["words"])
        assert total == pytest.approx(prediction.probability, abs=1e-3)
        assert len(explanation.attributions["words"]) <= 64  # only words the model read


def test_a_champion_whose_folder_is_gone_is_a_clear_error_and_writes_nothing(
    world: sessionmaker[Session], tmp_path: Path
) -> None:
    with world() as session, session.begin():
        version = session.scalars(select(ModelVersion).where(ModelVersion.task == "claim_risk")).one()
        version.artifact_path = str(tmp_path / "deleted-model")
    with pytest.raises(InvalidInput, match="cannot be loaded"):
        scoring.score(world, actor=ADMIN, device="cpu")
    assert count(world, Prediction) == 0 and count(world, MessagePrediction) == 0
    assert count(world, ScoringRun) == 0


def test_two_scorers_at_once_never_score_a_claim_twice(world: sessionmaker[Session], read_ahead: bool) -> None:
    def run(_: int) -> scoring.ScoringResult:
        return scoring.score(world, actor=ADMIN, explain_limit=0, chunk_size=32, device="cpu", read_ahead=read_ahead)

    _, errors = run_at_once(run, 2)
    assert not errors
    assert count(world, Prediction) == 300
    with world() as session:
        duplicates = session.execute(
            select(Prediction.claim_id).group_by(Prediction.claim_id, Prediction.model_version_id)
            .having(func.count() > 1)
        ).all()  # fmt: skip
    assert duplicates == []


@pytest.fixture(params=[False, True], ids=["inline", "read-ahead"])
def read_ahead(request: pytest.FixtureRequest) -> bool:
    """Score chunks as read (the CPU default) or with the GPU's read-ahead thread, here on the CPU."""
    return bool(request.param)


@pytest.mark.parametrize("failing", ["claim_probabilities", "tokenize"])
def test_a_failure_mid_run_keeps_finished_chunks_and_releases_the_rest(
    world: sessionmaker[Session], database_url: str, monkeypatch: pytest.MonkeyPatch, failing: str, read_ahead: bool
) -> None:
    """The model failing on the third chunk, or tokenising failing (on the read-ahead thread
    when reading ahead): the first chunks stay scored, a chunk read ahead is rolled back
    (and unlocked), and the next run scores exactly the rest."""
    real = getattr(scoring, failing)
    calls = {"n": 0}

    def fails_on_third(*args, **kwargs):  # type: ignore[no-untyped-def]
        calls["n"] += 1
        if calls["n"] == 3:
            raise RuntimeError("out of memory")
        return real(*args, **kwargs)

    monkeypatch.setattr(scoring, failing, fails_on_third)
    with pytest.raises(RuntimeError, match="out of memory"):
        scoring.score(world, actor=ADMIN, explain_limit=0, chunk_size=50, device="cpu", read_ahead=read_ahead)
    assert count(world, Prediction) == 100
    assert engine_for(database_url).pool.checkedout() == 0  # no session left open by either thread
    with world() as session:
        run = session.scalars(select(ScoringRun)).one()
        assert (run.status, run.error) == ("failed", "RuntimeError: out of memory")
        failed = session.scalars(select(AuditLog).where(AuditLog.action == "scoring.failed")).one()
        assert (failed.entity_id, failed.details["error"]) == (str(run.id), "RuntimeError: out of memory")
    monkeypatch.setattr(scoring, failing, real)
    scoring.score(world, actor=ADMIN, explain_limit=0, chunk_size=50, device="cpu")
    assert count(world, Prediction) == count(world, Claim) == 300
    with world() as session:
        per_claim = session.execute(
            select(func.count()).select_from(Prediction).group_by(Prediction.claim_id, Prediction.model_version_id)
        )
        assert {n for (n,) in per_claim} == {1}


def test_reading_ahead_holds_one_chunk_beyond_the_one_being_scored(
    world: sessionmaker[Session], database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On PostgreSQL every open chunk locks its rows: the read-ahead claims one more, not a queue of them."""
    real = scoring.claim_probabilities
    open_connections: list[int] = []

    def slow_model(*args, **kwargs):  # type: ignore[no-untyped-def]
        time.sleep(0.2)  # time for an eager reader to claim more
        open_connections.append(engine_for(database_url).pool.checkedout())
        return real(*args, **kwargs)

    monkeypatch.setattr(scoring, "claim_probabilities", slow_model)
    scoring.score(world, actor=ADMIN, explain_limit=0, chunk_size=50, device="cpu", read_ahead=True)
    assert count(world, Prediction) == 300
    assert max(open_connections) == 2  # the chunk being scored and the next one


def test_rescoring_all_keeps_the_prediction_a_claim_was_decided_on(world: sessionmaker[Session]) -> None:
    scoring.score(world, actor=ADMIN, explain_limit=0, device="cpu")
    with world() as session, session.begin():
        user = User(username="ann", role="adjuster", password_hash="x")
        session.add(user)
        session.flush()
        decided = session.scalars(select(Prediction).order_by(Prediction.id)).first()
        assert decided is not None
        decided_id = decided.id
        session.add(Review(claim_id=decided.claim_id, user_id=user.id, decision="deny", reason_code="r",
                           prediction_id=decided.id, claim_version=1))  # fmt: skip
    result = scoring.score(world, actor=ADMIN, rescore_open=True, explain_limit=0, device="cpu")
    assert result.claims == 299
    with world() as session:
        assert session.get(Prediction, decided_id) is not None
    assert count(world, Prediction) == 300


def test_only_managers_and_admins_run_scoring_and_adjusters_may_explain(world: sessionmaker[Session]) -> None:
    with pytest.raises(PermissionDenied):
        scoring.score(world, actor=Actor("ann", Role.ADJUSTER), device="cpu")
    scoring.score(world, actor=Actor("meg", Role.MANAGER), explain_limit=0, device="cpu")
    with world() as session, session.begin():
        claim_id = session.scalar(select(Prediction.claim_id).where(Prediction.band == "low"))
        if claim_id is None:
            claim_id = session.scalar(select(Prediction.claim_id))
        row = explanations.explain_claim(session, actor=Actor("ann", Role.ADJUSTER), claim_id=claim_id, device="cpu")
        assert row.reasons
