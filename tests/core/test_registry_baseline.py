"""The promotion gate's baseline check: a model that does not beat the TF-IDF baselines
trained on its own test rows fails the gate (a manager may override), the first model of a
task is still promoted when that is its only failing check, and the registry overview
flags it and says how many test rows its metrics are on."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from core import registry
from core.auth import Actor, Role
from core.errors import NotFound
from core.registry import GateFailed, GateSettings
from core.tasks import Task
from db.models import AuditLog, ModelVersion

BOSS = Actor("boss", Role.ADMIN)
MANAGER = Actor("meg", Role.MANAGER, 2)


def claim_report(model_auc: float, text_auc: float = 0.70, fields_auc: float = 0.80, rows: int = 508) -> dict:
    def entry(auc: float) -> dict[str, Any]:
        return {"roc_auc": auc, "pr_auc": auc / 2, "f1": 0.4, "recall": 0.3, "brier": 0.07, "ece": 0.03, "count": rows}

    return {
        "model": entry(model_auc),
        "baseline_tfidf_lr": entry(text_auc),
        "baseline_tfidf_fields_lr": entry(fields_auc),
        "label_sources": {"ground_truth": rows},
    }


def claim_metrics(model_auc: float, champion: tuple[int, float] | None = None, **report: Any) -> dict[str, Any]:
    metrics: dict[str, Any] = {
        "summary": {"roc_auc": model_auc, "pr_auc": model_auc / 2, "f1": 0.4, "recall": 0.3, "brier": 0.07,
                    "ece": 0.03},
        "report": claim_report(model_auc, **report),
    }  # fmt: skip
    if champion is not None:
        metrics["comparison"] = {"champion_version_id": champion[0], "champion": {"roc_auc": champion[1], "ece": 0.02}}
    return metrics


def sentiment_metrics(model_f1: float, baseline_f1: float) -> dict[str, Any]:
    return {
        "summary": {"accuracy": 0.9, "macro_f1": model_f1},
        "report": {
            "model": {"accuracy": 0.9, "macro_f1": model_f1, "count": 709},
            "baseline_tfidf_lr": {"accuracy": 0.91, "macro_f1": baseline_f1, "count": 709},
        },
    }


def candidate(
    session: Session, metrics: dict[str, Any], task: str = Task.CLAIM_RISK, path: str = "/models/x"
) -> ModelVersion:
    return registry.register_candidate(
        session, actor=BOSS, task=task, artifact_path=path, base_model="tiny", method="head",
        metrics=metrics, parameters={}, training_run_id=None,
    )  # fmt: skip


def audit_entries(session: Session, action: str) -> list[AuditLog]:
    return list(session.scalars(select(AuditLog).where(AuditLog.action == action).order_by(AuditLog.id)))


def test_a_claim_model_below_its_strongest_baseline_fails_the_gate_and_says_so(session: Session) -> None:
    # The demo's first model: 0.826 against the TF-IDF + fields baseline's 0.859.
    with session.begin():
        weak = candidate(session, claim_metrics(0.826, fields_auc=0.859, text_auc=0.759))
    session.rollback()
    with pytest.raises(GateFailed) as caught, session.begin():
        registry.promote(session, actor=BOSS, version_id=weak.id)
    result = caught.value.result
    assert result.reasons == [
        "does not beat its baseline: roc_auc 0.826 is below the TF-IDF + fields baseline's 0.859 on the same test rows"
    ]
    assert result.baseline is not None and result.baseline.baseline == "baseline_tfidf_fields_lr"
    session.rollback()
    assert registry.champion(session, Task.CLAIM_RISK) is None


def test_a_manager_overrides_the_baseline_check_with_a_recorded_reason(session: Session) -> None:
    with session.begin():
        weak = candidate(session, claim_metrics(0.826, fields_auc=0.859))
        result = registry.promote(session, actor=MANAGER, version_id=weak.id, override_reason="needed for the pilot")
    assert not result.passed and registry.champion(session, Task.CLAIM_RISK).id == weak.id  # type: ignore[union-attr]
    (entry,) = audit_entries(session, "model.promoted_override")
    assert entry.details["override_reason"] == "needed for the pilot"
    assert "does not beat its baseline" in entry.details["gate_reasons"][0]


def test_a_model_above_every_baseline_passes_and_the_margin_comes_from_gate_settings(session: Session) -> None:
    with session.begin():
        strong = candidate(session, claim_metrics(0.87, fields_auc=0.86))
        close = candidate(session, claim_metrics(0.85, fields_auc=0.86))
    assert registry.evaluate_gate(strong, None, GateSettings()).passed
    assert not registry.evaluate_gate(close, None, GateSettings()).passed
    lenient = registry.evaluate_gate(close, None, GateSettings(baseline_margin=0.02))
    assert lenient.passed and lenient.baseline is not None and lenient.baseline.model == pytest.approx(0.85)
    stricter = registry.evaluate_gate(close, None, GateSettings(baseline_margin=0.005))
    assert GateSettings.configured() == GateSettings()  # the settings' defaults are the gate's
    assert stricter.reasons == [
        "does not beat its baseline by more than 0.005: roc_auc 0.850 is below the TF-IDF + fields baseline's "
        "0.860 on the same test rows"
    ]


def test_the_baseline_check_also_applies_to_a_challenger_that_beats_the_champion(session: Session) -> None:
    with session.begin():
        old = candidate(session, claim_metrics(0.90, fields_auc=0.80))
        registry.promote(session, actor=BOSS, version_id=old.id)
        challenger = candidate(session, claim_metrics(0.84, champion=(old.id, 0.83), fields_auc=0.86))
    result = registry.compare_with_champion(session, actor=MANAGER, version_id=challenger.id)
    assert result.champion["roc_auc"] == pytest.approx(0.83)
    assert len(result.reasons) == 1 and result.reasons[0].startswith("does not beat its baseline")


def test_the_sentiment_gate_checks_macro_f1_against_the_sentiment_baseline(session: Session) -> None:
    with session.begin():
        below = candidate(session, sentiment_metrics(0.88, 0.90), Task.SENTIMENT)
        above = candidate(session, sentiment_metrics(0.902, 0.898), Task.SENTIMENT)
    failed = registry.evaluate_gate(below, None, GateSettings())
    assert failed.reasons == [
        "does not beat its baseline: macro_f1 0.880 is below the TF-IDF text baseline's 0.900 on the same test rows"
    ]
    assert registry.evaluate_gate(above, None, GateSettings()).passed


def test_a_version_without_baselines_on_record_is_not_checked_against_one(session: Session) -> None:
    with session.begin():
        bare = candidate(session, {"summary": {"roc_auc": 0.7, "ece": 0.03}})
        no_figure = candidate(session, {"summary": {"roc_auc": 0.7, "ece": 0.03}, "report": claim_report(0.7)})
    no_figure.metrics["report"]["baseline_tfidf_lr"]["roc_auc"] = None
    no_figure.metrics["report"]["baseline_tfidf_fields_lr"]["roc_auc"] = float("nan")
    for version in (bare, no_figure):
        result = registry.evaluate_gate(version, None, GateSettings())
        assert result.passed and result.baseline is None


def test_the_first_model_is_promoted_when_only_its_baseline_check_fails_as_an_audited_override(
    session: Session,
) -> None:
    with session.begin():
        weak = candidate(session, claim_metrics(0.826, fields_auc=0.859))
        result = registry.promote_first(session, actor=BOSS, version_id=weak.id)
    assert result is not None and not result.passed
    assert registry.champion(session, Task.CLAIM_RISK).id == weak.id  # type: ignore[union-attr]
    (entry,) = audit_entries(session, "model.promoted_override")
    assert entry.details["override_reason"] == registry.FIRST_MODEL_OVERRIDE
    session.rollback()
    with session.begin():  # a second version is never promoted this way: there is a champion to keep
        second = candidate(session, claim_metrics(0.95, fields_auc=0.80))
        assert registry.promote_first(session, actor=BOSS, version_id=second.id) is None
    assert session.get(ModelVersion, second.id).stage == "candidate"  # type: ignore[union-attr]


def test_the_first_model_stays_a_candidate_when_another_check_fails_too(session: Session) -> None:
    metrics = claim_metrics(0.826, fields_auc=0.859)
    metrics["summary"]["ece"] = 0.09
    with session.begin():
        uncalibrated = candidate(session, metrics)
        assert registry.promote_first(session, actor=BOSS, version_id=uncalibrated.id) is None
        good = candidate(session, claim_metrics(0.9, fields_auc=0.8))
        passed = registry.promote_first(session, actor=BOSS, version_id=good.id)
    assert passed is not None and passed.passed
    assert registry.champion(session, Task.CLAIM_RISK).id == good.id  # type: ignore[union-attr]
    assert audit_entries(session, "model.promoted_override") == []


def test_the_overview_flags_versions_below_their_baseline_and_says_how_many_rows_their_metrics_are_on(
    session: Session,
) -> None:
    metrics = claim_metrics(0.826, fields_auc=0.859, rows=508)
    metrics["summary"]["pr_auc"] = None  # undefined on the test rows: stored as null
    with session.begin():
        weak = candidate(session, metrics)
        candidate(session, sentiment_metrics(0.902, 0.898), Task.SENTIMENT)
        candidate(session, {"summary": {"roc_auc": 0.7, "ece": 0.03}})  # trained before baselines were stored
    rows = {(v.task, v.version): v for v in registry.overview(session, actor=MANAGER)}
    claim = rows[(Task.CLAIM_RISK, weak.version)]
    assert claim.label == "claim_risk v1" and claim.test_rows == 508
    assert claim.summary["roc_auc"] == pytest.approx(0.826) and claim.summary["pr_auc"] is None
    assert claim.baseline is not None and claim.baseline.below and claim.baseline.label == "TF-IDF + fields baseline"
    assert claim.baseline_summary["roc_auc"] == pytest.approx(0.859)
    sentiment = rows[(Task.SENTIMENT, 1)]
    assert sentiment.baseline is not None and not sentiment.baseline.below and sentiment.test_rows == 709
    old = rows[(Task.CLAIM_RISK, 2)]
    assert old.baseline is None and old.test_rows is None and old.baseline_summary == {}


def test_a_missing_model_card_is_reported_by_its_path_under_the_model_dir_not_the_servers(
    session: Session, model_dir: Path
) -> None:
    folder = model_dir / "claim_risk" / "run-7"
    folder.mkdir(parents=True)
    with session.begin():
        version = candidate(session, claim_metrics(0.9), path=str(folder.resolve()))
    with pytest.raises(NotFound) as caught:
        registry.model_card(session, actor=MANAGER, version_id=version.id)
    assert str(caught.value) == "the model card of claim_risk v1 is missing (claim_risk/run-7/README.md)"
    assert str(model_dir) not in str(caught.value)


def test_promotion_reads_the_gate_from_the_settings(session: Session, monkeypatch: pytest.MonkeyPatch) -> None:
    from core.config import get_settings

    with session.begin():
        close = candidate(session, claim_metrics(0.85, fields_auc=0.86))
    monkeypatch.setenv("CLAIMLENS_GATE_BASELINE_MARGIN", "0.02")
    get_settings.cache_clear()
    try:
        assert GateSettings.configured().baseline_margin == 0.02
        with session.begin():
            assert registry.promote(session, actor=BOSS, version_id=close.id).passed
    finally:
        get_settings.cache_clear()
