"""The model registry: versions, the champion per task, the promotion gate, rollback.

A challenger replaces the champion only if it passes the gate on the *same* held-out
rows: the training run scores the then-champion on its own test split and stores both
results (`metrics["comparison"]`). The gate (`GateSettings`, from the `CLAIMLENS_GATE_*`
settings) then checks:

- claim model: ROC-AUC not lower than the champion's by more than `auc_margin`, and
  expected calibration error at most `max_ece` (monitoring relies on calibration);
- sentiment model: macro-F1 not lower than the champion's by more than `f1_margin`.

Whether or not there is a champion, the gate also checks the model against its own
baselines (`metrics["report"]`, the TF-IDF models trained on the same rows): its ROC-AUC
(sentiment: macro-F1) must not be lower than the strongest baseline's by more than
`baseline_margin`.

A manager may override a failed gate with a recorded reason. Every promotion, override
and rollback is audited with who and why.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core import audit
from core.auth import Actor, Permission, require
from core.clock import now
from core.config import default, get_settings
from core.errors import ClaimLensError, InvalidInput, NotFound
from core.tasks import Task
from db.models import ModelVersion, Stage


@dataclass(frozen=True)
class GateSettings:
    auc_margin: float = default("gate_auc_margin")
    max_ece: float = default("gate_max_ece")
    f1_margin: float = default("gate_f1_margin")
    baseline_margin: float = default("gate_baseline_margin")

    @classmethod
    def configured(cls) -> GateSettings:
        s = get_settings()
        return cls(s.gate_auc_margin, s.gate_max_ece, s.gate_f1_margin, s.gate_baseline_margin)


GATE_METRIC: dict[str, str] = {Task.CLAIM_RISK: "roc_auc", Task.SENTIMENT: "macro_f1"}
BASELINE_PREFIX = "baseline_"
BASELINE_LABELS = {
    "baseline_fields_lr": "fields-only logistic regression",
    "baseline_tfidf_lr": "TF-IDF text baseline",
    "baseline_tfidf_fields_lr": "TF-IDF + fields baseline",
}


@dataclass(frozen=True)
class BaselineCheck:
    """A model against its strongest baseline on the gate's metric, both on the model's
    own held-out test rows."""

    metric: str
    model: float
    baseline: str  # the report's name for it, e.g. "baseline_tfidf_fields_lr"
    baseline_value: float

    @property
    def label(self) -> str:
        return BASELINE_LABELS.get(self.baseline, self.baseline)

    @property
    def below(self) -> bool:
        """The model does not beat its baseline (what cards and pages flag; the gate allows `baseline_margin`)."""
        return self.model < self.baseline_value

    def describe(self) -> str:
        relation = "below" if self.below else "above"
        return (
            f"{self.metric} {self.model:.3f} is {relation} the {self.label}'s {self.baseline_value:.3f} "
            "on the same test rows"
        )


def baseline_check(task: str, report: dict[str, Any]) -> BaselineCheck | None:
    """The model in a training report against the best of its baselines; None when the
    report has no model figure or no baseline on the gate's metric."""
    key = GATE_METRIC.get(task)
    model = _metric(report.get("model") or {}, key) if key else None
    baselines = [
        (name, value)
        for name, values in report.items()
        if name.startswith(BASELINE_PREFIX) and isinstance(values, dict)
        and (value := _metric(values, key or "")) is not None
    ]  # fmt: skip
    if key is None or model is None or not baselines:
        return None
    name, value = max(baselines, key=lambda item: item[1])
    return BaselineCheck(key, model, name, value)


@dataclass
class GateResult:
    passed: bool
    reasons: list[str] = field(default_factory=list)
    challenger: dict[str, float] = field(default_factory=dict)
    champion: dict[str, float] = field(default_factory=dict)
    baseline: BaselineCheck | None = None


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
        task=task, version=latest + 1, stage=Stage.CANDIDATE, artifact_path=artifact_path, base_model=base_model,
        method=method, metrics=metrics, parameters=parameters, training_run_id=training_run_id,
    )  # fmt: skip
    session.add(version)
    session.flush()
    audit.record(session, actor=actor, action="model.registered", entity_type="model_version", entity_id=version.id,
                 details={"task": task, "version": version.version})  # fmt: skip
    return version


def champion(session: Session, task: str) -> ModelVersion | None:
    return session.scalar(select(ModelVersion).where(ModelVersion.task == task, ModelVersion.stage == Stage.CHAMPION))


def _versions(session: Session, *, task: str | None = None) -> list[ModelVersion]:
    query = select(ModelVersion).order_by(ModelVersion.task, ModelVersion.version.desc())
    if task:
        query = query.where(ModelVersion.task == task)
    return list(session.scalars(query))


def evaluate_gate(challenger: ModelVersion, current: ModelVersion | None, settings: GateSettings) -> GateResult:
    mine = challenger.metrics.get("summary", {})
    result = GateResult(passed=True, challenger=dict(mine))
    key, margin = (
        ("roc_auc", settings.auc_margin) if challenger.task == Task.CLAIM_RISK else ("macro_f1", settings.f1_margin)
    )
    if _metric(mine, key) is None:
        result.reasons.append(f"{key} is undefined on the test rows (too few labelled rows of each class)")
    if challenger.task == Task.CLAIM_RISK:
        ece = _metric(mine, "ece")
        if ece is None or ece > settings.max_ece:
            result.reasons.append(
                f"ECE {ece if ece is not None else float('nan'):.3f} above the bound {settings.max_ece:.3f}"
            )
    check = result.baseline = baseline_check(challenger.task, challenger.metrics.get("report") or {})
    if check is not None and check.model < check.baseline_value - settings.baseline_margin:
        result.reasons.append(_below_baseline_reason(check, settings.baseline_margin))
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


def _below_baseline_reason(check: BaselineCheck, margin: float) -> str:
    by = f" by more than {margin:.3f}" if margin else ""
    return f"does not beat its baseline{by}: {check.describe()}"


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
    if challenger.stage == Stage.CHAMPION:
        raise InvalidInput(f"{challenger.task} v{challenger.version} is already the champion")
    current = champion(session, challenger.task)
    result = evaluate_gate(challenger, current, settings or GateSettings.configured())
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
        current.stage = Stage.RETIRED
        session.flush()  # one champion per task at any moment
    challenger.stage = Stage.CHAMPION
    challenger.promoted_at = now()
    challenger.previous_champion_id = current.id if current else None
    _hand_over_serving(challenger, current)


def _hand_over_serving(new: ModelVersion, outgoing: ModelVersion | None) -> None:
    """The outgoing claim-risk champion keeps serving the open claims the new one has not
    rescored yet (`core.serving`); the worker rescores them and ends the hand-over."""
    if new.task != Task.CLAIM_RISK or outgoing is None:
        new.serving_fallback_id = None
        return
    # The outgoing model keeps its own fallback: after a second change before the first
    # finished, the claims neither newer model has scored are served from further back.
    # A rollback to a model the outgoing one still falls back on would close a loop
    # (v2 -> v3 -> v2) and lose what v2 fell back on: splice v2 out of the chain instead.
    if outgoing.serving_fallback_id == new.id:
        outgoing.serving_fallback_id = new.serving_fallback_id
    new.serving_fallback_id = outgoing.id


def _previous_champion(session: Session, current: ModelVersion | None) -> ModelVersion | None:
    if current is None or current.previous_champion_id is None:
        return None
    return session.get(ModelVersion, current.previous_champion_id)


def rollback_target(session: Session, *, actor: Actor, task: str) -> ModelVersion | None:
    """The version a rollback of this task's champion would restore (None: nothing to restore)."""
    require(actor, Permission.VIEW_MODELS)
    return _previous_champion(session, champion(session, task))


def rollback(session: Session, *, actor: Actor, task: str, reason: str) -> ModelVersion:
    """Restore the champion that the current one replaced."""
    require(actor, Permission.PROMOTE_MODELS)
    if not reason.strip():
        raise InvalidInput("a rollback needs a reason")
    current = champion(session, task)
    previous = _previous_champion(session, current)
    if current is None or previous is None:
        raise InvalidInput(f"no earlier {task} champion to roll back to")
    current.stage = Stage.ROLLED_BACK
    session.flush()
    previous.stage = Stage.CHAMPION
    previous.promoted_at = now()
    _hand_over_serving(previous, current)
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
        raise NotFound(f"the model card of {version.task} v{version.version} is missing ({_under_model_dir(card)})")
    return card.read_text(encoding="utf-8")


def _under_model_dir(path: Path) -> str:
    """A model folder's path as the people who read pages know it: relative to the model
    directory (absolute server paths say nothing to them and reveal the server's layout)."""
    try:
        return str(path.resolve().relative_to(get_settings().model_dir.resolve()))
    except ValueError:  # moved or trained elsewhere: the version's folder name is what people recognise
        return str(Path(path.parent.name) / path.name)


def compare_with_champion(session: Session, *, actor: Actor, version_id: int) -> GateResult:
    """What the gate would say if this version were promoted now (nothing is changed)."""
    require(actor, Permission.VIEW_MODELS)
    challenger = session.get(ModelVersion, version_id)
    if challenger is None:
        raise NotFound(f"model version {version_id} does not exist")
    return evaluate_gate(challenger, champion(session, challenger.task), GateSettings.configured())


FIRST_MODEL_OVERRIDE = (
    "first model of the task, promoted automatically although it does not beat its baseline: "
    "there is no champion to keep, and the queue needs a model"
)


def promote_first(
    session: Session, *, actor: Actor, version_id: int, settings: GateSettings | None = None
) -> GateResult | None:
    """Make a task's first model champion if it passes the gate. One whose only failing
    check is its baseline is promoted too, as an audited override (`FIRST_MODEL_OVERRIDE`),
    and stays flagged on its card and the Models page; any other failure leaves it a
    candidate. None when it was not promoted or the task already has a champion."""
    require(actor, Permission.PROMOTE_MODELS)
    version = session.get(ModelVersion, version_id)
    if version is None:
        raise NotFound(f"model version {version_id} does not exist")
    if champion(session, version.task) is not None:
        return None
    settings = settings or GateSettings.configured()
    result = evaluate_gate(version, None, settings)
    if result.passed:
        return promote(session, actor=actor, version_id=version_id, settings=settings)
    check = result.baseline
    if check is not None and result.reasons == [_below_baseline_reason(check, settings.baseline_margin)]:
        return promote(session, actor=actor, version_id=version_id, settings=settings,
                       override_reason=FIRST_MODEL_OVERRIDE)  # fmt: skip
    return None


@dataclass(frozen=True)
class VersionOverview:
    """One registry row as the Models page lists it: the headline metrics are on the
    version's own test rows (`test_rows` of them), taken when it was trained."""

    id: int
    task: str
    version: int
    stage: str
    method: str
    created_at: datetime
    summary: dict[str, float | None]
    test_rows: int | None
    baseline: BaselineCheck | None
    baseline_summary: dict[str, float | None]  # the strongest baseline on the same keys as `summary`

    @property
    def label(self) -> str:
        return f"{self.task} v{self.version}"


def overview(session: Session, *, actor: Actor, task: str | None = None) -> list[VersionOverview]:
    """Every version (of `task`), newest first per task, with its baseline check and how
    many test rows its metrics are on."""
    require(actor, Permission.VIEW_MODELS)
    return [_overview(version) for version in _versions(session, task=task)]


def _overview(version: ModelVersion) -> VersionOverview:
    summary = version.metrics.get("summary") or {}
    report = version.metrics.get("report") or {}
    test_rows = (report.get("model") or {}).get("count")
    check = baseline_check(version.task, report)
    return VersionOverview(
        id=version.id,
        task=version.task,
        version=version.version,
        stage=version.stage,
        method=version.method,
        created_at=version.created_at,
        summary={key: _metric(summary, key) for key in summary},
        test_rows=int(test_rows) if isinstance(test_rows, int | float) else None,
        baseline=check,
        baseline_summary={key: _metric(report.get(check.baseline) or {}, key) for key in summary} if check else {},
    )
