"""One training run from queue row to registered model version.

Transactions stay short: read the data, train outside any transaction (minutes to
hours), then save the folder and register the version in one transaction. A run that
fails or is cancelled writes no model version and never touches the champion.
"""

from __future__ import annotations

import shutil
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from accelerate import Accelerator
from sqlalchemy.orm import Session, sessionmaker

from core import bands, jobs, registry
from core.auth import Actor
from core.config import get_settings
from core.jobs import PREPARING
from core.modeling.inference import claim_probabilities, message_probabilities
from core.modeling.models import load_model, save_model
from core.run_spec import TrainingConfig
from core.tasks import SPECS, Task
from db.models import RunStatus, TrainingRun
from training import card, data, evaluation
from training.loop import Cancelled, Progress
from training.tasks import TrainedModel, sentiment_targets, train_task

# Progress is stored at most this often (and at each phase's start and end); between two
# writes a report answers with the cancel flag the last write read.
WRITE_EVERY_S = 1.0


@dataclass
class RunOutcome:
    run_id: int
    status: str
    model_version_id: int | None = None
    version: int | None = None
    promoted: bool = False
    summary: dict[str, float] | None = None
    report: dict[str, Any] | None = None
    error: str | None = None


def execute_run(
    sessions: sessionmaker[Session], *, run_id: int, actor: Actor, auto_promote_first: bool = True,
    on_progress: Callable[[Progress], None] | None = None, accelerator: Accelerator | None = None,
) -> RunOutcome:  # fmt: skip
    """Run a claimed (`running`) training run to its end state; never raises for a training error.

    Under `accelerate launch` every process trains its shard; only the main process
    writes progress, evaluates, saves and registers.
    """
    main = accelerator is None or accelerator.is_main_process
    progress = _ProgressWriter(sessions, run_id, on_progress) if main else None
    try:
        if progress is not None:  # a record only: under `accelerate launch` the first collective check acts on it
            progress(Progress(PREPARING, 0, 0, 0.0))
        with sessions() as session, session.begin():
            run = session.get(TrainingRun, run_id)
            assert run is not None and run.status == RunStatus.RUNNING, f"run {run_id} is not claimed"
            config = TrainingConfig.from_dict(run.config)
            splits = _load_splits(session, config)
            current = registry.champion(session, config.task)
            champion_ref = (current.id, current.artifact_path, bands.stored(current.parameters)) if current else None
        trained = train_task(config, splits, progress, accelerator)
        if progress is None:
            return RunOutcome(run_id, "secondary")

        def stage(name: str) -> None:
            assert progress is not None
            if not progress(Progress.evaluating(name, time.perf_counter() - trained.evaluation_started)):
                raise Cancelled("cancelled by request")

        stage("metrics and baselines")
        report = _evaluate(config, splits, trained)
        summary = evaluation.summary_metrics(config.task, report)
        stage("comparing with the champion")
        comparison = _compare_with_champion(config, splits, champion_ref)
        stage("saving")
        folder = _save(config, run_id, trained, report, splits)
        return _register(sessions, run_id, actor, config, trained, report, summary, comparison, folder, splits,
                         auto_promote_first)  # fmt: skip
    except Cancelled:
        if main:
            _end(sessions, actor, run_id, RunStatus.CANCELLED, "cancelled by request")
        return RunOutcome(run_id, RunStatus.CANCELLED)
    except Exception as error:  # any failure must end the run as failed, with the reason kept
        message = f"{type(error).__name__}: {error}"
        if main:
            _end(sessions, actor, run_id, RunStatus.FAILED, message + "\n" + traceback.format_exc(limit=5))
        return RunOutcome(run_id, RunStatus.FAILED, error=message)


def _load_splits(session: Session, config: TrainingConfig) -> data.Splits:
    frame = (
        data.labelled_claims(session, config)
        if config.task == Task.CLAIM_RISK
        else data.labelled_messages(session, config)
    )
    return data.time_split(frame, config)


class _ProgressWriter:
    """The run's progress callback: echoes every report, stores one at most every
    WRITE_EVERY_S (a phase's first and last always), and says whether to go on."""

    def __init__(self, sessions: sessionmaker[Session], run_id: int, echo: Callable[[Progress], None] | None) -> None:
        self.sessions, self.run_id, self.echo = sessions, run_id, echo
        self.phase: str | None = None
        self.written_at = -float("inf")
        self.keep_going = True

    def __call__(self, progress: Progress) -> bool:
        if self.echo:
            self.echo(progress)
        boundary = progress.phase != self.phase or progress.done >= progress.total
        if not boundary and time.monotonic() - self.written_at < WRITE_EVERY_S:
            return self.keep_going
        with self.sessions() as session, session.begin():
            self.keep_going = jobs.report_progress(session, run_id=self.run_id, progress=progress.to_dict())
        self.phase, self.written_at = progress.phase, time.monotonic()
        return self.keep_going


def _evaluate(config: TrainingConfig, splits: data.Splits, trained: TrainedModel) -> dict[str, Any]:
    if config.task == Task.CLAIM_RISK:
        return evaluation.evaluate_claims(splits, trained.test_scores, trained.thresholds)
    return evaluation.evaluate_sentiment(splits, trained.test_scores)


def _compare_with_champion(
    config: TrainingConfig, splits: data.Splits, champion_ref: tuple[int, str, dict[str, float]] | None
) -> dict[str, Any]:
    """Score the current champion on this run's test rows, for the promotion gate."""
    if champion_ref is None:
        return {}
    champion_id, path, thresholds = champion_ref
    loaded = load_model(path)
    if config.task == Task.CLAIM_RISK:
        probabilities = claim_probabilities(loaded, splits.test)
        threshold = bands.decision_threshold(thresholds)  # its own, as registered
        metrics = evaluation.claim_metrics(splits.test["label"].to_numpy(), probabilities, threshold)
    else:
        predicted = np.argmax(message_probabilities(loaded, splits.test), axis=1)
        metrics = evaluation.sentiment_metrics(sentiment_targets(splits.test), predicted)
    return {"champion_version_id": champion_id, "champion": evaluation.summary_metrics(config.task, {"model": metrics})}


def _save(
    config: TrainingConfig, run_id: int, trained: TrainedModel, report: dict[str, Any], splits: data.Splits
) -> Path:
    folder = (get_settings().model_dir / config.task / f"run-{run_id}").resolve()
    if folder.exists():
        shutil.rmtree(folder)  # a half-written folder from an earlier attempt of this run
    save_model(folder, trained.model, trained.tokenizer, trained.meta)
    dates = SPECS[Task(config.task)].date_column
    window = {
        "first": str(splits.train[dates].min()), "last": str(splits.test[dates].max()),
        "train": len(splits.train), "validation": len(splits.validation), "test": len(splits.test),
    }  # fmt: skip
    (folder / "README.md").write_text(
        card.render(config, report, window, {**trained.meta.__dict__, "thresholds": trained.thresholds})
    )
    return folder


def _register(
    sessions: sessionmaker[Session], run_id: int, actor: Actor, config: TrainingConfig, trained: TrainedModel,
    report: dict[str, Any], summary: dict[str, float], comparison: dict[str, Any], folder: Path,
    splits: data.Splits, auto_promote_first: bool,
) -> RunOutcome:  # fmt: skip
    id_column = SPECS[Task(config.task)].id_column
    with sessions() as session, session.begin():
        version = registry.register_candidate(
            session, actor=actor, task=config.task, artifact_path=str(folder), base_model=trained.meta.base_model,
            method=config.method,
            metrics=_jsonable({"summary": summary, "report": report, "comparison": comparison,
                               "validation_metric": trained.validation_metric,
                               "train_seconds": round(trained.train_seconds, 1), "processes": trained.processes}),
            parameters={"thresholds": trained.thresholds, "calibration": trained.meta.calibration},
            training_run_id=run_id,
        )  # fmt: skip
        promoted = (
            auto_promote_first and registry.promote_first(session, actor=actor, version_id=version.id) is not None
        )
        jobs.finish_run(
            session, actor=actor, run_id=run_id, status=RunStatus.SUCCEEDED, manifest=splits.manifest(id_column)
        )
        return RunOutcome(run_id, RunStatus.SUCCEEDED, version.id, version.version, promoted, summary, report)


def _end(sessions: sessionmaker[Session], actor: Actor, run_id: int, status: str, error: str) -> None:
    with sessions() as session, session.begin():
        jobs.finish_run(session, actor=actor, run_id=run_id, status=status, error=error[:4000])


def _jsonable(value: Any) -> Any:
    """JSON has no NaN (PostgreSQL refuses it): an undefined metric is stored as null."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, float | np.floating):
        return None if np.isnan(value) else float(value)
    if isinstance(value, np.integer):
        return int(value)
    return value
