"""The model registry: the promotion gate, one champion per task, overrides, rollback, audit, roles."""

from __future__ import annotations

import re
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core import registry
from core.auth import Actor, Role
from core.errors import InvalidInput, NotFound, PermissionDenied
from core.registry import GateFailed, GateSettings
from core.tasks import Task
from db.models import AuditLog, ModelVersion

BOSS = Actor("boss", Role.ADMIN)
MANAGER = Actor("meg", Role.MANAGER)


def claim_metrics(
    roc_auc: float = 0.80, ece: float = 0.03, champion_id: int | None = None, champion_auc: float = 0.80
) -> dict[str, Any]:
    metrics: dict[str, Any] = {"summary": {"roc_auc": roc_auc, "ece": ece}}
    if champion_id is not None:
        metrics["comparison"] = {"champion_version_id": champion_id, "champion": {"roc_auc": champion_auc, "ece": 0.02}}
    return metrics


def sentiment_metrics(macro_f1: float, champion_id: int | None = None, champion_f1: float = 0.75) -> dict[str, Any]:
    metrics: dict[str, Any] = {"summary": {"accuracy": 0.8, "macro_f1": macro_f1}}
    if champion_id is not None:
        # roc_auc on the comparison is deliberately terrible: the sentiment gate must ignore it.
        metrics["comparison"] = {
            "champion_version_id": champion_id,
            "champion": {"accuracy": 0.8, "macro_f1": champion_f1, "roc_auc": 1.0},
        }
    return metrics


def candidate(session: Session, metrics: dict[str, Any], task: str = Task.CLAIM_RISK) -> ModelVersion:
    return registry.register_candidate(
        session, actor=BOSS, task=task, artifact_path=f"/models/{task}", base_model="tiny", method="head",
        metrics=metrics, parameters={}, training_run_id=None,
    )  # fmt: skip


def champion_in_place(session: Session, task: str = Task.CLAIM_RISK) -> ModelVersion:
    """Register and promote a first version that passes the gate on its own."""
    first = candidate(session, claim_metrics() if task == Task.CLAIM_RISK else sentiment_metrics(0.75), task)
    registry.promote(session, actor=BOSS, version_id=first.id)
    return first


def audit_entries(session: Session, action: str) -> list[AuditLog]:
    return list(session.scalars(select(AuditLog).where(AuditLog.action == action).order_by(AuditLog.id)))


def champions_of(session: Session, task: str) -> int:
    query = select(func.count()).select_from(ModelVersion).where(ModelVersion.task == task)
    return session.scalar(query.where(ModelVersion.stage == "champion")) or 0


def test_first_claim_model_with_ece_within_bound_becomes_champion_and_is_audited(session: Session) -> None:
    with session.begin():
        first = candidate(session, claim_metrics(ece=0.04))
        assert first.version == 1 and first.stage == "candidate"
        result = registry.promote(session, actor=BOSS, version_id=first.id)
    assert result.passed and result.reasons == []
    current = registry.champion(session, Task.CLAIM_RISK)
    assert current is not None and current.id == first.id
    assert current.promoted_at is not None and current.previous_champion_id is None
    (entry,) = audit_entries(session, "model.promoted")
    assert entry.actor == "boss" and entry.entity_id == str(first.id)
    assert entry.details["replaced"] is None and entry.details["override_reason"] is None


def test_claim_model_with_ece_above_the_bound_fails_the_gate_and_stays_a_candidate(session: Session) -> None:
    with session.begin():
        first = candidate(session, claim_metrics(ece=0.08))
    session.rollback()
    with pytest.raises(GateFailed) as caught, session.begin():
        registry.promote(session, actor=BOSS, version_id=first.id)
    assert "ECE 0.080 above the bound 0.050" in str(caught.value)
    assert not caught.value.result.passed
    session.rollback()
    assert registry.champion(session, Task.CLAIM_RISK) is None
    assert session.get(ModelVersion, first.id).stage == "candidate"  # type: ignore[union-attr]
    assert audit_entries(session, "model.promoted") == []


def test_max_ece_comes_from_gate_settings(session: Session) -> None:
    with session.begin():
        first = candidate(session, claim_metrics(ece=0.08))
        result = registry.promote(session, actor=BOSS, version_id=first.id, settings=GateSettings(max_ece=0.1))
    assert result.passed
    assert registry.champion(session, Task.CLAIM_RISK).id == first.id  # type: ignore[union-attr]


def test_challenger_more_than_auc_margin_below_the_champion_on_the_same_rows_fails(session: Session) -> None:
    with session.begin():
        old = champion_in_place(session)
        challenger = candidate(session, claim_metrics(roc_auc=0.78, champion_id=old.id, champion_auc=0.80))
    session.rollback()
    with pytest.raises(GateFailed) as caught, session.begin():
        registry.promote(session, actor=BOSS, version_id=challenger.id)
    assert "roc_auc 0.780 is more than 0.010 below the champion's 0.800" in str(caught.value)
    assert caught.value.result.champion["roc_auc"] == pytest.approx(0.80)
    session.rollback()
    assert registry.champion(session, Task.CLAIM_RISK).id == old.id  # type: ignore[union-attr]


def test_challenger_slightly_below_the_champion_but_within_auc_margin_is_promoted(session: Session) -> None:
    with session.begin():
        old = champion_in_place(session)
        challenger = candidate(session, claim_metrics(roc_auc=0.795, champion_id=old.id, champion_auc=0.80))
        result = registry.promote(session, actor=BOSS, version_id=challenger.id)
    assert result.passed
    assert registry.champion(session, Task.CLAIM_RISK).id == challenger.id  # type: ignore[union-attr]
    assert session.get(ModelVersion, challenger.id).previous_champion_id == old.id  # type: ignore[union-attr]


def test_a_wider_auc_margin_in_settings_lets_a_weaker_challenger_through(session: Session) -> None:
    with session.begin():
        old = champion_in_place(session)
        challenger = candidate(session, claim_metrics(roc_auc=0.78, champion_id=old.id, champion_auc=0.80))
        result = registry.promote(session, actor=BOSS, version_id=challenger.id, settings=GateSettings(auc_margin=0.05))
    assert result.passed


def test_comparison_against_a_stale_champion_fails_even_with_better_metrics(session: Session) -> None:
    with session.begin():
        first = champion_in_place(session)
        second = candidate(session, claim_metrics(champion_id=first.id))
        registry.promote(session, actor=BOSS, version_id=second.id)
        # Trained while `first` was champion: its comparison says nothing about `second`.
        stale = candidate(session, claim_metrics(roc_auc=0.95, champion_id=first.id, champion_auc=0.80))
    session.rollback()
    with pytest.raises(GateFailed) as caught, session.begin():
        registry.promote(session, actor=BOSS, version_id=stale.id)
    assert "no comparison with the current champion (v2)" in str(caught.value)
    session.rollback()
    assert registry.champion(session, Task.CLAIM_RISK).id == second.id  # type: ignore[union-attr]


def test_challenger_without_any_comparison_cannot_replace_a_champion(session: Session) -> None:
    with session.begin():
        champion_in_place(session)
        lone = candidate(session, claim_metrics(roc_auc=0.99))
    session.rollback()
    with pytest.raises(GateFailed, match="no comparison"), session.begin():
        registry.promote(session, actor=BOSS, version_id=lone.id)


def test_override_with_a_reason_promotes_a_failing_model_and_audits_the_reason(session: Session) -> None:
    with session.begin():
        old = champion_in_place(session)
        weak = candidate(session, claim_metrics(roc_auc=0.70, ece=0.09, champion_id=old.id, champion_auc=0.80))
        result = registry.promote(
            session, actor=MANAGER, version_id=weak.id, override_reason="  regulator asked for the new features "
        )
    assert not result.passed and len(result.reasons) == 2
    assert registry.champion(session, Task.CLAIM_RISK).id == weak.id  # type: ignore[union-attr]
    assert [e.entity_id for e in audit_entries(session, "model.promoted")] == [str(old.id)]  # the gate-passing one
    (entry,) = audit_entries(session, "model.promoted_override")
    assert entry.actor == "meg" and entry.entity_id == str(weak.id)
    assert entry.details["override_reason"] == "regulator asked for the new features"
    assert entry.details["replaced"] == old.version and len(entry.details["gate_reasons"]) == 2


@pytest.mark.parametrize("reason", ["", "   \t\n"])
def test_an_empty_or_blank_override_reason_does_not_override_the_gate(session: Session, reason: str) -> None:
    with session.begin():
        failing = candidate(session, claim_metrics(ece=0.2))
    session.rollback()
    with pytest.raises(GateFailed), session.begin():
        registry.promote(session, actor=BOSS, version_id=failing.id, override_reason=reason)
    session.rollback()
    assert registry.champion(session, Task.CLAIM_RISK) is None
    assert audit_entries(session, "model.promoted_override") == []


def test_promotion_leaves_exactly_one_champion_per_task_and_retires_the_old_one(session: Session) -> None:
    with session.begin():
        sentiment = champion_in_place(session, Task.SENTIMENT)
        first = champion_in_place(session)
        second = candidate(session, claim_metrics(champion_id=first.id))
        registry.promote(session, actor=BOSS, version_id=second.id)
        third = candidate(session, claim_metrics(champion_id=second.id))
        registry.promote(session, actor=BOSS, version_id=third.id)
    session.expire_all()
    assert champions_of(session, Task.CLAIM_RISK) == 1 and champions_of(session, Task.SENTIMENT) == 1
    stages = {v.id: v.stage for v in registry.overview(session, actor=BOSS, task=Task.CLAIM_RISK)}
    assert stages == {first.id: "retired", second.id: "retired", third.id: "champion"}
    assert session.get(ModelVersion, sentiment.id).stage == "champion"  # type: ignore[union-attr]
    assert [v.version for v in registry.overview(session, actor=BOSS, task=Task.CLAIM_RISK)] == [3, 2, 1]


def test_promoting_the_current_champion_again_is_refused_and_unknown_versions_are_not_found(session: Session) -> None:
    with session.begin():
        first = champion_in_place(session)
    session.rollback()
    with pytest.raises(InvalidInput, match="already the champion"), session.begin():
        registry.promote(session, actor=BOSS, version_id=first.id)
    session.rollback()
    with pytest.raises(NotFound, match="9999"), session.begin():
        registry.promote(session, actor=BOSS, version_id=9999)


def test_rollback_restores_the_previous_champion_and_audits_who_and_why(session: Session) -> None:
    with session.begin():
        first = champion_in_place(session)
        second = candidate(session, claim_metrics(champion_id=first.id))
        registry.promote(session, actor=BOSS, version_id=second.id)
        restored = registry.rollback(session, actor=MANAGER, task=Task.CLAIM_RISK, reason="v2 floods the SIU queue")
    session.expire_all()
    assert restored.id == first.id
    assert registry.champion(session, Task.CLAIM_RISK).id == first.id  # type: ignore[union-attr]
    assert session.get(ModelVersion, second.id).stage == "rolled_back"  # type: ignore[union-attr]
    assert champions_of(session, Task.CLAIM_RISK) == 1
    (entry,) = audit_entries(session, "model.rolled_back")
    assert entry.actor == "meg" and entry.entity_id == str(first.id)
    assert entry.details == {
        "task": Task.CLAIM_RISK,
        "from_version": 2,
        "to_version": 1,
        "reason": "v2 floods the SIU queue",
    }


def test_rollback_walks_back_one_champion_at_a_time(session: Session) -> None:
    with session.begin():
        first = champion_in_place(session)
        second = candidate(session, claim_metrics(champion_id=first.id))
        registry.promote(session, actor=BOSS, version_id=second.id)
        third = candidate(session, claim_metrics(champion_id=second.id))
        registry.promote(session, actor=BOSS, version_id=third.id)
        # What the rollback dialog names is what the rollback then restores, each step back.
        assert registry.rollback_target(session, actor=MANAGER, task=Task.CLAIM_RISK).id == second.id  # type: ignore[union-attr]
        assert registry.rollback(session, actor=BOSS, task=Task.CLAIM_RISK, reason="bad").id == second.id
        assert registry.rollback_target(session, actor=MANAGER, task=Task.CLAIM_RISK).id == first.id  # type: ignore[union-attr]
        assert registry.rollback(session, actor=BOSS, task=Task.CLAIM_RISK, reason="also bad").id == first.id
        assert registry.rollback_target(session, actor=MANAGER, task=Task.CLAIM_RISK) is None
    assert registry.champion(session, Task.CLAIM_RISK).id == first.id  # type: ignore[union-attr]
    assert champions_of(session, Task.CLAIM_RISK) == 1


@pytest.mark.parametrize("reason", ["", "   "])
def test_rollback_without_a_reason_is_refused_and_changes_nothing(session: Session, reason: str) -> None:
    with session.begin():
        first = champion_in_place(session)
        second = candidate(session, claim_metrics(champion_id=first.id))
        registry.promote(session, actor=BOSS, version_id=second.id)
    session.rollback()
    with pytest.raises(InvalidInput, match="needs a reason"), session.begin():
        registry.rollback(session, actor=BOSS, task=Task.CLAIM_RISK, reason=reason)
    session.rollback()
    assert registry.champion(session, Task.CLAIM_RISK).id == second.id  # type: ignore[union-attr]
    assert audit_entries(session, "model.rolled_back") == []


def test_rollback_with_no_champion_or_no_earlier_champion_fails_clearly(session: Session) -> None:
    with pytest.raises(InvalidInput, match="no earlier claim_risk champion to roll back to"), session.begin():
        registry.rollback(session, actor=BOSS, task=Task.CLAIM_RISK, reason="panic")
    session.rollback()
    with session.begin():
        first = champion_in_place(session)
    session.rollback()
    with pytest.raises(InvalidInput, match="no earlier claim_risk champion"), session.begin():
        registry.rollback(session, actor=BOSS, task=Task.CLAIM_RISK, reason="panic")
    session.rollback()
    assert registry.champion(session, Task.CLAIM_RISK).id == first.id  # type: ignore[union-attr]


@pytest.mark.parametrize("role", [Role.ADJUSTER, Role.COMPLIANCE])
def test_adjusters_and_compliance_may_neither_promote_nor_roll_back(session: Session, role: Role) -> None:
    with session.begin():
        first = champion_in_place(session)
        second = candidate(session, claim_metrics(champion_id=first.id))
    session.rollback()
    outsider = Actor("ann", role)
    with pytest.raises(PermissionDenied), session.begin():
        registry.promote(session, actor=outsider, version_id=second.id)
    session.rollback()
    with pytest.raises(PermissionDenied), session.begin():
        registry.promote(session, actor=outsider, version_id=second.id, override_reason="I insist")
    session.rollback()
    with session.begin():
        registry.promote(session, actor=BOSS, version_id=second.id)
    session.rollback()
    with pytest.raises(PermissionDenied), session.begin():
        registry.rollback(session, actor=outsider, task=Task.CLAIM_RISK, reason="I prefer v1")
    session.rollback()
    assert registry.champion(session, Task.CLAIM_RISK).id == second.id  # type: ignore[union-attr]
    assert audit_entries(session, "model.rolled_back") == []


@pytest.mark.parametrize("role", [Role.ADJUSTER, Role.COMPLIANCE])
def test_adjusters_and_compliance_may_not_register_candidates(session: Session, role: Role) -> None:
    with pytest.raises(PermissionDenied), session.begin():
        registry.register_candidate(
            session, actor=Actor("ann", role), task=Task.CLAIM_RISK, artifact_path="/x", base_model="tiny",
            method="head", metrics=claim_metrics(), parameters={}, training_run_id=None,
        )  # fmt: skip


def test_first_sentiment_model_is_promoted_without_any_ece(session: Session) -> None:
    with session.begin():
        first = candidate(session, sentiment_metrics(0.6), Task.SENTIMENT)
        result = registry.promote(session, actor=BOSS, version_id=first.id)
    assert result.passed
    assert registry.champion(session, Task.SENTIMENT).id == first.id  # type: ignore[union-attr]
    assert registry.champion(session, Task.CLAIM_RISK) is None


def test_sentiment_gate_compares_macro_f1_with_the_f1_margin(session: Session) -> None:
    with session.begin():
        old = champion_in_place(session, Task.SENTIMENT)
        worse = candidate(session, sentiment_metrics(0.70, champion_id=old.id, champion_f1=0.75), Task.SENTIMENT)
        close = candidate(session, sentiment_metrics(0.745, champion_id=old.id, champion_f1=0.75), Task.SENTIMENT)
    session.rollback()
    expected = re.escape("macro_f1 0.700 is more than 0.010 below the champion's 0.750")
    with pytest.raises(GateFailed, match=expected), session.begin():
        registry.promote(session, actor=BOSS, version_id=worse.id)
    session.rollback()
    with session.begin():
        # Passes although its summary has no roc_auc and the comparison's champion roc_auc is 1.0.
        assert registry.promote(session, actor=BOSS, version_id=close.id).passed
    assert registry.champion(session, Task.SENTIMENT).id == close.id  # type: ignore[union-attr]


def test_sentiment_f1_margin_comes_from_gate_settings(session: Session) -> None:
    with session.begin():
        old = champion_in_place(session, Task.SENTIMENT)
        worse = candidate(session, sentiment_metrics(0.70, champion_id=old.id, champion_f1=0.75), Task.SENTIMENT)
        result = registry.promote(session, actor=BOSS, version_id=worse.id, settings=GateSettings(f1_margin=0.1))
    assert result.passed
    assert registry.champion(session, Task.SENTIMENT).id == worse.id  # type: ignore[union-attr]


def test_a_model_whose_test_metric_is_undefined_is_never_promoted_by_the_gate(session: Session) -> None:
    # A test window with one class leaves ROC-AUC undefined (stored as null): no evidence, no promotion.
    with session.begin():
        blind = candidate(session, {"summary": {"roc_auc": None, "ece": 0.01}})
    session.rollback()
    with pytest.raises(GateFailed, match="roc_auc is undefined"), session.begin():
        registry.promote(session, actor=BOSS, version_id=blind.id)
    session.rollback()
    assert registry.champion(session, Task.CLAIM_RISK) is None
