"""Training runs end to end on a small seeded database with a tiny BERT (both backends)."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from core import jobs, registry
from core.auth import Actor, Role, cli_actor
from core.data.generator import GeneratorConfig
from core.data.seeding import seed
from core.modeling.inference import claim_probabilities
from core.modeling.models import load_model
from core.run_spec import TrainingConfig
from db.models import AuditLog, Claim, ModelVersion, Review, TrainingRun, User
from db.session import engine_for
from training import run as run_module
from training.data import labelled_claims
from training.run import WRITE_EVERY_S, RunOutcome, execute_run
from training.tasks import ENCODE_BATCH

ADMIN = cli_actor()


@pytest.fixture
def sessions(database_url: str, model_dir: Path) -> sessionmaker[Session]:
    factory = sessionmaker(bind=engine_for(database_url), expire_on_commit=False)
    with factory() as session, session.begin():
        seed(session, actor=ADMIN, config=GeneratorConfig(claims=400, seed=3))
    return factory


def run_training(
    sessions: sessionmaker[Session], tiny_base_model: str, task: str = "claim_risk", **overrides
) -> RunOutcome:  # type: ignore[no-untyped-def]
    method = overrides.pop("method", None)
    values = {"epochs": 2, "batch_size": 32, "max_length": 48, "base_model": tiny_base_model, **overrides}
    config = TrainingConfig.for_profile(task, "quick", method, **values)
    with sessions() as session, session.begin():
        run = jobs.queue_run(session, actor=ADMIN, config=config.to_dict())
        jobs.claim_run(session, run_id=run.id, worker_id="test")
    return execute_run(sessions, run_id=run.id, actor=ADMIN)


def test_claim_run_registers_a_champion_with_card_metrics_and_manifest(
    sessions: sessionmaker[Session], tiny_base_model: str
) -> None:
    outcome = run_training(sessions, tiny_base_model)
    assert outcome.status == "succeeded", outcome.error
    assert outcome.promoted and outcome.version == 1
    with sessions() as session:
        version = session.get(ModelVersion, outcome.model_version_id)
        run = session.get(TrainingRun, outcome.run_id)
        assert version is not None and run is not None
        assert version.stage == "champion" and run.status == "succeeded"
        report = version.metrics["report"]
        assert {"model", "baseline_tfidf_lr", "oracle"} <= set(report)
        assert 0.0 <= report["model"]["roc_auc"] <= 1.0 and report["oracle"]["roc_auc"] > 0.75
        assert set(version.parameters["thresholds"]) == {"high", "medium"}
        manifest = run.data_manifest
        assert set(manifest) == {"train", "validation", "test"}
        assert len(manifest["train"]) + len(manifest["validation"]) + len(manifest["test"]) == 400
        assert max(manifest["train"]) < min(manifest["test"])  # claim ids follow report dates: split by time
        folder = Path(version.artifact_path)
        card = (folder / "README.md").read_text()
        assert "## Intended use" in card and "baseline_tfidf_lr" in card and "oracle" in card
        claims = labelled_claims(session, TrainingConfig.from_dict(run.config))
    loaded = load_model(folder)
    probabilities = claim_probabilities(loaded, claims.head(50))
    assert probabilities.shape == (50,) and ((probabilities > 0) & (probabilities < 1)).all()


def test_same_seed_same_model(sessions: sessionmaker[Session], tiny_base_model: str) -> None:
    first = run_training(sessions, tiny_base_model)
    second = run_training(sessions, tiny_base_model)
    assert first.summary == second.summary
    assert first.promoted and not second.promoted  # the second is a candidate for the gate


@pytest.mark.parametrize("method", ["full", "lora"])
def test_full_and_lora_fine_tuning_produce_loadable_models(
    sessions: sessionmaker[Session],
    tiny_base_model: str,
    method: str,
    monkeypatch: pytest.MonkeyPatch,
    request: pytest.FixtureRequest,
) -> None:
    from core.config import get_settings

    request.addfinalizer(get_settings.cache_clear)
    # The torch module is what carries LoRA's adapters; without fast bf16 the CPU would load
    # the encoder into ONNX Runtime instead.
    monkeypatch.setenv("CLAIMLENS_CPU_RUNTIME", "torch")
    get_settings.cache_clear()
    outcome = run_training(sessions, tiny_base_model, method=method, epochs=1)
    assert outcome.status == "succeeded", outcome.error
    with sessions() as session:
        version = session.get(ModelVersion, outcome.model_version_id)
        assert version is not None and version.method == method
        loaded = load_model(version.artifact_path)
    assert not hasattr(loaded.model.encoder.transformer, "peft_config")  # LoRA merged into plain weights


def test_sentiment_run(sessions: sessionmaker[Session], tiny_base_model: str) -> None:
    outcome = run_training(sessions, tiny_base_model, task="sentiment")
    assert outcome.status == "succeeded", outcome.error
    assert set(outcome.summary or {}) == {"accuracy", "macro_f1"}
    assert "baseline_tfidf_lr" in (outcome.report or {})


def test_a_failing_run_is_marked_failed_and_leaves_the_champion(
    sessions: sessionmaker[Session], tiny_base_model: str, tmp_path: Path
) -> None:
    champion = run_training(sessions, tiny_base_model)
    failed = run_training(sessions, tiny_base_model, base_model=str(tmp_path / "no-such-model"))
    assert failed.status == "failed" and "cannot load" in (failed.error or "")
    with sessions() as session:
        run = session.get(TrainingRun, failed.run_id)
        assert run is not None and run.status == "failed" and "cannot load" in (run.error or "")
        current = registry.champion(session, "claim_risk")
        assert current is not None and current.id == champion.model_version_id
        assert session.scalar(select(ModelVersion).where(ModelVersion.training_run_id == failed.run_id)) is None


def test_a_cancel_request_stops_the_run_between_steps(
    sessions: sessionmaker[Session], tiny_base_model: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    original = jobs.report_progress

    def cancel_then_report(session: Session, *, run_id: int, progress: dict) -> bool:  # type: ignore[type-arg]
        session.get(TrainingRun, run_id).cancel_requested = True  # type: ignore[union-attr]
        session.flush()
        return original(session, run_id=run_id, progress=progress)

    monkeypatch.setattr(jobs, "report_progress", cancel_then_report)
    outcome = run_training(sessions, tiny_base_model, epochs=3)
    assert outcome.status == "cancelled"
    with sessions() as session:
        assert session.scalars(select(ModelVersion)).all() == []
        assert session.get(TrainingRun, outcome.run_id).status == "cancelled"  # type: ignore[union-attr]


def record_stored_progress(
    monkeypatch: pytest.MonkeyPatch, cancel_when: Callable[[dict[str, Any]], bool] | None = None
) -> list[dict[str, Any]]:
    """Every progress dict the run stores; `cancel_when(progress)` true flags a cancel first."""
    original, stored = jobs.report_progress, []

    def report(session: Session, *, run_id: int, progress: dict[str, Any]) -> bool:
        stored.append(progress)
        if cancel_when is not None and cancel_when(progress):
            session.get(TrainingRun, run_id).cancel_requested = True  # type: ignore[union-attr]
            session.flush()
        return original(session, run_id=run_id, progress=progress)

    monkeypatch.setattr(jobs, "report_progress", report)
    return stored


def test_a_run_stores_each_phase_in_order_from_the_first_encoded_batch_and_not_more_than_about_once_a_second(
    sessions: sessionmaker[Session], tiny_base_model: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    stored = record_stored_progress(monkeypatch)
    started = time.monotonic()
    outcome = run_training(sessions, tiny_base_model)
    seconds = time.monotonic() - started
    assert outcome.status == "succeeded", outcome.error
    phases = [p["phase"] for p in stored]
    assert list(dict.fromkeys(phases)) == ["preparing", "encoding", "training", "evaluating"]
    encoding = [p for p in stored if p["phase"] == "encoding"]
    assert encoding[0]["done"] == 0 and encoding[-1]["done"] == encoding[-1]["total"] == 400  # every split's texts
    assert stored[phases.index("evaluating")]["stage"] == "calibrating"
    # each phase's first and last report, plus at most one a second in between
    assert len(stored) <= 2 * 4 + seconds / WRITE_EVERY_S + 1


def test_a_cancel_during_encoding_stops_at_the_next_batch_and_never_trains(
    sessions: sessionmaker[Session], tiny_base_model: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(run_module, "WRITE_EVERY_S", 0.0)  # store every batch's report
    stored = record_stored_progress(monkeypatch, lambda p: p["phase"] == "encoding" and p["done"] > 0)
    outcome = run_training(sessions, tiny_base_model)
    assert outcome.status == "cancelled"
    assert [p["phase"] for p in stored] == ["preparing", "encoding", "encoding"]
    assert stored[-1]["done"] == ENCODE_BATCH < stored[-1]["total"]
    with sessions() as session:
        run = session.get(TrainingRun, outcome.run_id)
        assert run is not None and run.status == "cancelled" and run.finished_at is not None
        assert jobs.describe(run).detail == f"{ENCODE_BATCH} / 400 texts encoded"
        assert session.scalars(select(ModelVersion)).all() == []


def test_a_cancel_during_evaluation_registers_nothing(
    sessions: sessionmaker[Session], tiny_base_model: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    stored = record_stored_progress(monkeypatch, lambda p: p["phase"] == "evaluating")
    outcome = run_training(sessions, tiny_base_model)
    assert outcome.status == "cancelled"
    assert stored[-1]["phase"] == "evaluating"
    with sessions() as session:
        assert session.scalars(select(ModelVersion)).all() == []
        assert registry.champion(session, "claim_risk") is None


def test_adjuster_decisions_become_labels(sessions: sessionmaker[Session]) -> None:
    with sessions() as session, session.begin():
        adjuster = User(username="ann", role="adjuster", password_hash="x")
        session.add(adjuster)
        session.flush()
        claims = session.scalars(select(Claim).order_by(Claim.id).limit(2)).all()
        truth = {c.id: c.ground_truth.is_fraud for c in claims}  # type: ignore[union-attr]
        for claim in claims:
            decision = "approve" if truth[claim.id] else "deny"  # flip the generator's label
            session.add(Review(claim_id=claim.id, user_id=adjuster.id, decision=decision, reason_code="test",
                               claim_version=1))  # fmt: skip
    with sessions() as session:
        frame = labelled_claims(session, TrainingConfig(task="claim_risk")).set_index("claim_id")
    for claim_id, was_fraud in truth.items():
        assert frame.at[claim_id, "label"] == (0 if was_fraud else 1)
        assert frame.at[claim_id, "label_source"] == "decision"


def test_only_managers_and_admins_queue_runs(sessions: sessionmaker[Session]) -> None:
    from core.errors import PermissionDenied

    config = TrainingConfig(task="claim_risk").to_dict()
    with sessions() as session, session.begin():
        with pytest.raises(PermissionDenied):
            jobs.queue_run(session, actor=Actor("ann", Role.ADJUSTER), config=config)
        run = jobs.queue_run(session, actor=Actor("meg", Role.MANAGER), config=config)
        entry = session.scalars(select(AuditLog).where(AuditLog.action == "training.queued")).one()
        assert entry.actor == "meg" and entry.entity_id == str(run.id)
