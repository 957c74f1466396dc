"""The model registry: versions, the champion per task, the promotion gate, rollback.

A challenger replaces the champion only if it passes the gate on the *same* held-out
rows: the training run scores the then-champion on its own test split and stores both
results (`metrics["comparison"]`). The gate (thresholds below, configurable through
settings) then checks:

- claim model: ROC-AUC not lower than the champion's by more than `auc_margin`, and
  expected calibration error at most `max_ece` (monitoring relies on calibration);
- sentiment model: macro-F1 not lower than the champion's by more than `f1_margin`.

A manager may override a failed gate with a recorded reason. Every promotion, override
and rollback is audited with who and why.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core import audit
from core.auth import Actor, Permission, require
from core.errors import ClaimLensError, InvalidInput, NotFound
from core.jobs import now
from db.models import ModelVersion

CLAIM_TASK, SENTIMENT_TASK = "claim_risk", "sentiment"


@dataclass(frozen=True)
class GateSettings:
    auc_margin: float = 0.01
    max_ece: float = 0.05
    f1_margin: float = 0.01


@dataclass
class GateResult:
    passed: bool
    reasons: list[str] = field(default_factory=list)
    challenger: dict[str, float] = field(default_factory=dict)
    champion: dict[str, float] = field(default_factory=dict)


class GateFailed(ClaimLensError):
    def __init__(self, result: GateResult) -> None:
        super().__init__("promotion gate failed: " + "; ".join(result.reasons))
        self.result = result


def register_candidate(
    session: Session, *, actor: Actor, task: str, artifact_path: str, base_model: str, method: str,
    metrics: dict[str, Any], parameters: dict[str, Any], training_run_id: int | None,
) -> ModelVersion:  # fmt: skip
    require(actor, Permission.TRAIN_MODELS)
    latest = session.scalar(select(func.max(ModelVersion.version)).where(ModelVersion.task == task)) or 0
    version = ModelVersion(
        task=task, version=latest + 1, stage="candidate", artifact_path=artifact_path, base_model=base_model,
        method=method, metrics=metrics, parameters=parameters, training_run_id=training_run_id,
    )  # fmt: skip
    session.add(version)
    session.flush()
    audit.record(session, actor=actor, action="model.registered", entity_type="model_version", entity_id=version.id,
                 details={"task": task, "version": version.version})  # fmt: skip
    return version


def champion(session: Session, task: str) -> ModelVersion | None:
    return session.scalar(select(ModelVersion).where(ModelVersion.task == task, ModelVersion.stage == "champion"))


def versions(session: Session, task: str | None = None) -> list[ModelVersion]:
    query = select(ModelVersion).order_by(ModelVersion.task, ModelVersion.version.desc())
    if task:
        query = query.where(ModelVersion.task == task)
    return list(session.scalars(query))


def evaluate_gate(challenger: ModelVersion, current: ModelVersion | None, settings: GateSettings) -> GateResult:
    mine = challenger.metrics.get("summary", {})
    result = GateResult(passed=True, challenger=dict(mine))
    key, margin = (
        ("roc_auc", settings.auc_margin) if challenger.task == CLAIM_TASK else ("macro_f1", settings.f1_margin)
    )
    if _metric(mine, key) is None:
        result.reasons.append(f"{key} is undefined on the test rows (too few labelled rows of each class)")
    if challenger.task == CLAIM_TASK:
        ece = _metric(mine, "ece")
        if ece is None or ece > settings.max_ece:
            result.reasons.append(
                f"ECE {ece if ece is not None else float('nan'):.3f} above the bound {settings.max_ece:.3f}"
            )
    if current is not None:
        comparison = challenger.metrics.get("comparison", {})
        if comparison.get("champion_version_id") != current.id:
            result.reasons.append(
                f"no comparison with the current champion (v{current.version}) on the same test rows; retrain"
            )
        else:
            theirs = comparison["champion"]
            result.champion = dict(theirs)
            mine_value, their_value = _metric(mine, key), _metric(theirs, key)
            if mine_value is not None and their_value is not None and mine_value < their_value - margin:
                result.reasons.append(
                    f"{key} {mine_value:.3f} is more than {margin:.3f} below the champion's {their_value:.3f}"
                )
    result.passed = not result.reasons
    return result


def _metric(values: dict[str, Any], key: str) -> float | None:
    value = values.get(key)
    return None if value is None or value != value else float(value)  # NaN != NaN


def promote(
    session: Session, *, actor: Actor, version_id: int, override_reason: str | None = None,
    settings: GateSettings | None = None,
) -> GateResult:  # fmt: skip
    require(actor, Permission.PROMOTE_MODELS)
    challenger = session.get(ModelVersion, version_id)
    if challenger is None:
        raise NotFound(f"model version {version_id} does not exist")
    if challenger.stage == "champion":
        raise InvalidInput(f"{challenger.task} v{challenger.version} is already the champion")
    current = champion(session, challenger.task)
    result = evaluate_gate(challenger, current, settings or GateSettings())
    override = (override_reason or "").strip()
    if not result.passed and not override:
        raise GateFailed(result)
    _make_champion(session, challenger, current)
    action = "model.promoted" if result.passed else "model.promoted_override"
    details = {
        "task": challenger.task,
        "version": challenger.version,
        "replaced": current.version if current else None,
        "gate_reasons": result.reasons,
        "override_reason": override or None,
    }
    audit.record(
        session, actor=actor, action=action, entity_type="model_version", entity_id=challenger.id, details=details
    )
    return result


def _make_champion(session: Session, challenger: ModelVersion, current: ModelVersion | None) -> None:
    if current is not None:
        current.stage = "retired"
        session.flush()  # one champion per task at any moment
    challenger.stage = "champion"
    challenger.promoted_at = now()
    challenger.previous_champion_id = current.id if current else None


def rollback(session: Session, *, actor: Actor, task: str, reason: str) -> ModelVersion:
    """Restore the champion that the current one replaced."""
    require(actor, Permission.PROMOTE_MODELS)
    if not reason.strip():
        raise InvalidInput("a rollback needs a reason")
    current = champion(session, task)
    if current is None or current.previous_champion_id is None:
        raise InvalidInput(f"no earlier {task} champion to roll back to")
    previous = session.get(ModelVersion, current.previous_champion_id)
    assert previous is not None
    current.stage = "rolled_back"
    session.flush()
    previous.stage = "champion"
    previous.promoted_at = now()
    audit.record(
        session, actor=actor, action="model.rolled_back", entity_type="model_version", entity_id=previous.id,
        details={"task": task, "from_version": current.version, "to_version": previous.version, "reason": reason},
    )  # fmt: skip
    return previous


MODEL_CARD_FILE = "README.md"


def model_card(session: Session, *, actor: Actor, version_id: int) -> str:
    """The model card written into the version's folder when it was trained."""
    require(actor, Permission.VIEW_MODELS)
    version = session.get(ModelVersion, version_id)
    if version is None:
        raise NotFound(f"model version {version_id} does not exist")
    card = Path(version.artifact_path) / MODEL_CARD_FILE
    if not card.is_file():
        raise NotFound(f"the model card of {version.task} v{version.version} is missing ({card})")
    return card.read_text(encoding="utf-8")


def compare_with_champion(session: Session, *, actor: Actor, version_id: int) -> GateResult:
    """What the gate would say if this version were promoted now (nothing is changed)."""
    require(actor, Permission.VIEW_MODELS)
    challenger = session.get(ModelVersion, version_id)
    if challenger is None:
        raise NotFound(f"model version {version_id} does not exist")
    return evaluate_gate(challenger, champion(session, challenger.task), GateSettings())
