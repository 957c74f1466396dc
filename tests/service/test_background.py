"""The worker's background work: it scores what the champions have not scored, yields to
training runs, and loads each champion once (never on an idle loop)."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from core import clock, jobs, registry, scoring, serving
from core.auth import cli_actor
from core.run_spec import TrainingConfig
from core.tasks import Task
from db.models import Claim, DriftReport, Prediction, ScoringRun
from service import worker
from tests.conftest import train_tiny
from training.run import RunOutcome

ADMIN = cli_actor()


@pytest.fixture
def sessions(world: sessionmaker[Session]) -> sessionmaker[Session]:
    """300 claims, tiny claim and sentiment champions, nothing scored."""
    return world


@pytest.fixture
def loads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every model folder read from disk by the worker's model cache, in order."""
    seen: list[str] = []
    real = serving.load_model

    def counting(path, device="cpu"):  # type: ignore[no-untyped-def]
        seen.append(str(path))
        return real(path, device)

    monkeypatch.setattr(serving, "load_model", counting)
    return seen


def background(sessions: sessionmaker[Session]) -> worker.Background:
    return worker.Background(sessions, worker.worker_actor("test"), "test")


def run_until_idle(work: worker.Background, steps: int = 200) -> int:
    for done in range(steps):
        if not work.step():
            return done
    raise AssertionError("the background work never ran out")


def test_the_worker_scores_explains_and_then_idles_without_reloading_models(
    sessions: sessionmaker[Session], loads: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(worker, "IDLE_SCORE_CHECK_SECONDS", 0.0)  # look for work on every idle step
    work = background(sessions)
    run_until_idle(work)
    with sessions() as session:
        progress = serving.scoring_progress(session, actor=ADMIN)
    assert progress.done and progress.claims.scored == 300 and progress.explained == progress.flagged > 0
    scoring_loads = [path for path in loads if "/claim_risk/" in path or "/sentiment/" in path]
    assert len(set(scoring_loads[:2])) == 2  # scoring and explaining loaded each champion once ...
    assert work.models.loads == 2  # ... and kept them (the drift report reads the encoder on its own)
    settled = len(loads)
    for _ in range(20):  # an idle worker looks again and again
        assert not work.step()
    assert len(loads) == settled  # and never loads a model for it


def test_drift_reports_are_written_once_everything_is_scored_without_waiting_for_explanations(
    sessions: sessionmaker[Session],
) -> None:
    work = background(sessions)
    with sessions() as session:
        while scoring.pending(session):
            assert work.step()
    assert work.step()  # the step after the last chunk writes the reports
    with sessions() as session:
        progress = serving.scoring_progress(session, actor=ADMIN)
        assert session.scalar(select(func.count()).select_from(DriftReport)) > 0
    assert progress.explained < progress.flagged  # explaining goes on afterwards


def promote_a_challenger_after_scoring(
    work: worker.Background, sessions: sessionmaker[Session], tiny_base_model: str
) -> RunOutcome:
    """The worker scores everything, then a newly trained claim model becomes champion."""
    run_until_idle(work)
    challenger = train_tiny(sessions, tiny_base_model, "claim_risk", epochs=1)
    with sessions() as session, session.begin():
        registry.promote(session, actor=ADMIN, version_id=challenger.model_version_id, override_reason="test")  # type: ignore[arg-type]
    return challenger


def test_a_new_champion_is_loaded_once_and_rescores_the_open_claims(
    sessions: sessionmaker[Session], loads: list[str], tiny_base_model: str
) -> None:
    work = background(sessions)
    challenger = promote_a_challenger_after_scoring(work, sessions, tiny_base_model)
    loaded_before = work.models.loads
    run_until_idle(work)  # no wait: a champion change is noticed at once
    assert work.models.loads == loaded_before + 1
    with sessions() as session:
        assert serving.serving(session).fallbacks == ()  # type: ignore[union-attr]
        assert serving.rescoring_needed(session, actor=ADMIN, version_id=challenger.model_version_id) == 0  # type: ignore[arg-type]


def test_background_scoring_stops_between_chunks_when_a_training_run_is_queued(
    sessions: sessionmaker[Session], tiny_base_model: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(worker, "BACKGROUND_CHUNK_SIZE", 32)
    config = TrainingConfig.for_profile("claim_risk", "quick", base_model=tiny_base_model, epochs=1, max_length=64)
    with sessions() as session, session.begin():
        jobs.queue_run(session, actor=ADMIN, config=config.to_dict())
    assert background(sessions).step()
    with sessions() as session:
        scored = session.scalar(select(func.count(Prediction.id)))
        run = session.scalars(select(ScoringRun)).one()
    assert scored == 32  # one chunk, then the training run goes first
    assert run.status == "succeeded" and run.claims_scored == 32


def test_a_rollback_to_a_model_that_scored_everything_ends_the_hand_over_at_once(
    sessions: sessionmaker[Session], tiny_base_model: str
) -> None:
    work = background(sessions)
    promote_a_challenger_after_scoring(work, sessions, tiny_base_model)
    run_until_idle(work)
    with sessions() as session, session.begin():
        registry.rollback(session, actor=ADMIN, task=Task.CLAIM_RISK, reason="test")
    with sessions() as session:
        assert serving.serving(session).fallbacks  # type: ignore[union-attr]
    run_until_idle(work)  # v1 has scored every claim: nothing to rescore, and the queue stops falling back
    with sessions() as session:
        assert serving.serving(session).fallbacks == ()  # type: ignore[union-attr]


def test_the_worker_survives_an_unexpected_error_in_background_work(
    sessions: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    def locked(*_args, **_kwargs):  # type: ignore[no-untyped-def]
        raise OperationalError("SELECT 1", {}, Exception("database is locked"))

    monkeypatch.setattr(scoring, "pending", locked)
    work = background(sessions)
    assert not work.step()  # logged and backed off, not raised: queued training still gets served
    monkeypatch.undo()
    assert not work.step()  # still backing off


def test_the_worker_ages_open_claims_priorities_once_a_day(
    sessions: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    scoring.score(sessions, actor=ADMIN, explain_limit=0, device="cpu")
    with sessions() as session:
        newest = session.scalar(select(func.max(Claim.report_date)).where(Claim.is_open))
    assert newest is not None
    day = {"at": datetime.combine(newest, time(9), UTC)}
    monkeypatch.setattr(clock, "now", lambda: day["at"])
    work = background(sessions)

    def priorities() -> dict[int, float]:
        with sessions() as session:
            return dict(session.execute(select(Prediction.id, Prediction.priority)).tuples().all())

    assert work._age()  # at start: the claims reported lately have waited less than at scoring
    first = priorities()
    day["at"] += timedelta(hours=10)
    assert not work._age() and priorities() == first  # the same day: nothing to do, nothing read twice
    day["at"] += timedelta(days=1)
    assert work._age()  # the next day the waiting claims rise
    assert any(after > first[i] for i, after in priorities().items())
