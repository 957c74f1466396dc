"""The training-run queue: queue, claim atomically, report progress, cancel, finish, reap.

Two workers never take the same run: on PostgreSQL the claim is a
`SELECT ... FOR UPDATE SKIP LOCKED`; on SQLite (one writer at a time) a conditional
`UPDATE ... WHERE status = 'queued'` that only one transaction can win.
A worker writes a heartbeat while it trains; a run whose heartbeat is older than
`settings.worker_stale_seconds` (default 10 minutes) belongs to a dead worker (killed,
machine lost) and is marked failed.

A cancel takes effect at once for a queued run; a running one is flagged (shown as
"cancelling…") and its worker stops it at the next progress report, within seconds.
Progress is stored with the run as a dict: its `phase` (one of PHASES), `done` of `total`
in that phase, and the phase's own figures (`RunView` turns it into what a page shows).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from core import audit
from core.auth import Actor, Permission, Role, require
from core.clock import now
from core.config import get_settings
from core.errors import InvalidInput, NotFound
from core.run_spec import TrainingConfig
from db import dialect
from db.dialect import rows_changed
from db.models import RunStatus, TrainingRun

ACTIVE = (RunStatus.QUEUED, RunStatus.RUNNING)
CANCELLING = "cancelling…"  # shown for a running run whose cancel the worker has not acted on yet
PREPARING, ENCODING, TRAINING, EVALUATING = "preparing", "encoding", "training", "evaluating"
PHASES = (PREPARING, ENCODING, TRAINING, EVALUATING)


def queue_run(session: Session, *, actor: Actor, config: dict[str, Any]) -> TrainingRun:
    require(actor, Permission.TRAIN_MODELS)
    run = TrainingRun(
        task=config["task"],
        method=config["method"],
        profile=config["profile"],
        config=config,
        status=RunStatus.QUEUED,
        data_since=_as_date(config.get("since")),
        data_until=_as_date(config.get("until")),
        requested_by_id=actor.user_id,
        progress={},
    )
    session.add(run)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="training.queued",
        entity_type="training_run",
        entity_id=run.id,
        details={"task": run.task, "method": run.method, "profile": run.profile},
    )
    return run


def queue_training(
    session: Session,
    *,
    actor: Actor,
    task: str,
    profile: str = "quick",
    method: str | None = None,
    epochs: int | None = None,
    since: date | None = None,
    until: date | None = None,
) -> TrainingRun:
    """Queue a run from a manager's choices (the profile fills in the rest); bad choices
    are an `InvalidInput` before anything is written."""
    require(actor, Permission.TRAIN_MODELS)
    overrides: dict[str, Any] = {"since": since, "until": until}
    if epochs:
        overrides["epochs"] = int(epochs)
    config = TrainingConfig.for_profile(task, profile, method, **overrides)
    return queue_run(session, actor=actor, config=config.to_dict())


def _as_date(value: Any):  # type: ignore[no-untyped-def]
    return date.fromisoformat(value) if isinstance(value, str) else value


def claim_next_run(session: Session, *, worker_id: str) -> TrainingRun | None:
    """Atomically move the oldest queued run to `running` for this worker."""
    query = (
        select(TrainingRun.id)
        .where(TrainingRun.status == RunStatus.QUEUED)
        .order_by(TrainingRun.requested_at, TrainingRun.id)
    )
    if dialect.is_postgres(session):
        run_id = session.scalar(dialect.skip_locked(session, query.limit(1)))
        candidates = [run_id] if run_id is not None else []
    else:
        candidates = list(session.scalars(query.limit(5)))
    for run_id in candidates:
        run = claim_run(session, run_id=run_id, worker_id=worker_id)
        if run is not None:
            return run
    return None


def worker_actor(worker_id: str) -> Actor:
    """The worker as the audit log names it. Runs are queued by a manager; the worker
    carries them out and registers their results on the system's behalf."""
    return Actor(username=f"worker:{worker_id}"[:128], role=Role.ADMIN)


def claim_run(session: Session, *, run_id: int, worker_id: str) -> TrainingRun | None:
    """Move one queued run to `running`; None if another worker got there first."""
    claimed = session.execute(
        update(TrainingRun)
        .where(TrainingRun.id == run_id, TrainingRun.status == RunStatus.QUEUED)
        .values(status=RunStatus.RUNNING, worker_id=worker_id, started_at=now(), heartbeat_at=now())
    )
    if rows_changed(claimed) != 1:
        return None
    audit.record(session, actor=worker_actor(worker_id), action="training.started", entity_type="training_run",
                 entity_id=run_id)  # fmt: skip
    return session.get(TrainingRun, run_id, populate_existing=True)


def report_progress(session: Session, *, run_id: int, progress: dict[str, Any]) -> bool:
    """Store progress and the heartbeat; return False when a cancel was requested."""
    session.execute(update(TrainingRun).where(TrainingRun.id == run_id).values(progress=progress, heartbeat_at=now()))
    return not session.scalar(select(TrainingRun.cancel_requested).where(TrainingRun.id == run_id))


def beat(session: Session, *, run_id: int) -> None:
    session.execute(update(TrainingRun).where(TrainingRun.id == run_id).values(heartbeat_at=now()))


def request_cancel(session: Session, *, actor: Actor, run_id: int) -> TrainingRun:
    require(actor, Permission.TRAIN_MODELS)
    run = session.get(TrainingRun, run_id)
    if run is None:
        raise NotFound(f"training run {run_id} does not exist")
    if run.status not in ACTIVE:
        raise InvalidInput(f"training run {run_id} is already {run.status}")
    if run.cancel_requested:  # a second click, or a second tab: the first request stands
        return run
    if run.status == RunStatus.QUEUED:
        run.status, run.finished_at = RunStatus.CANCELLED, now()
    run.cancel_requested = True
    audit.record(session, actor=actor, action="training.cancel_requested", entity_type="training_run", entity_id=run_id)
    return run


def finish_run(
    session: Session,
    *,
    actor: Actor,
    run_id: int,
    status: str,
    error: str | None = None,
    manifest: dict[str, Any] | None = None,
) -> None:
    """Record how a run ended (succeeded, failed, cancelled), in the run and the audit log."""
    require(actor, Permission.TRAIN_MODELS)
    values: dict[str, Any] = {"status": status, "finished_at": now(), "error": error}
    if manifest is not None:
        values["data_manifest"] = manifest
    session.execute(update(TrainingRun).where(TrainingRun.id == run_id).values(**values))
    details = {"status": status, **({"error": error[:500]} if error else {})}
    audit.record(session, actor=actor, action=f"training.{status}", entity_type="training_run", entity_id=run_id,
                 details=details)  # fmt: skip


def reap_stale_runs(session: Session, *, actor: Actor, older_than: timedelta | None = None) -> list[int]:
    """Mark runs whose worker stopped beating as failed (audited as reaped by `actor`,
    the worker that noticed); return their ids."""
    require(actor, Permission.TRAIN_MODELS)
    cutoff = now() - (older_than or timedelta(seconds=get_settings().worker_stale_seconds))
    stale = list(
        session.scalars(
            select(TrainingRun.id).where(TrainingRun.status == RunStatus.RUNNING, TrainingRun.heartbeat_at < cutoff)
        )
    )
    for run_id in stale:
        session.execute(
            update(TrainingRun)
            .where(TrainingRun.id == run_id, TrainingRun.status == RunStatus.RUNNING)
            .values(status=RunStatus.FAILED, finished_at=now(), error="worker stopped responding (killed or lost)")
        )
        audit.record(session, actor=actor, action="training.reaped", entity_type="training_run", entity_id=run_id,
                     details={"error": "worker stopped responding (killed or lost)"})  # fmt: skip
    return stale


def _recent_runs(session: Session, *, limit: int) -> list[TrainingRun]:
    active_first = (TrainingRun.status.in_(ACTIVE)).desc()
    return list(
        session.scalars(
            select(TrainingRun)
            .order_by(active_first, TrainingRun.requested_at.desc(), TrainingRun.id.desc())
            .limit(limit)
        )
    )


def has_queued_runs(session: Session) -> bool:
    """Whether a training run waits for a worker (background scoring yields to it)."""
    return session.scalar(select(TrainingRun.id).where(TrainingRun.status == RunStatus.QUEUED).limit(1)) is not None


@dataclass(frozen=True)
class RunView:
    """One training run as the managers' page shows it: `status` says "cancelling…" from
    the moment a cancel is requested; `phase`, `fraction` (of that phase) and `detail`
    come from the stored progress."""

    run_id: int
    task: str
    method: str
    status: str
    phase: str
    fraction: float | None
    detail: str
    requested_at: datetime
    error: str
    cancellable: bool

    @property
    def in_progress(self) -> bool:
        """Queued, running or cancelling: the run's row still changes by itself."""
        return self.status in (*ACTIVE, CANCELLING)


def run_views(session: Session, *, actor: Actor, limit: int = 20) -> list[RunView]:
    """The newest training runs, active ones first, as the managers' page shows them."""
    require(actor, Permission.VIEW_MODELS)
    return [describe(run) for run in _recent_runs(session, limit=limit)]


def describe(run: TrainingRun) -> RunView:
    progress = dict(run.progress or {})
    if "phase" not in progress and "total_steps" in progress:  # written before runs had phases
        progress.update(phase=TRAINING, done=progress.get("step", 0), total=progress["total_steps"])
    phase = str(progress.get("phase") or "")
    done, total = int(progress.get("done") or 0), int(progress.get("total") or 0)
    fraction = min(done / total, 1.0) if total > 0 else None
    detail = _detail(phase, progress, done, total, live=run.status == RunStatus.RUNNING)
    status = CANCELLING if run.status == RunStatus.RUNNING and run.cancel_requested else run.status
    if run.status == RunStatus.SUCCEEDED:
        phase, fraction, detail = "finished", 1.0, ""
    elif run.status == RunStatus.QUEUED:
        phase, fraction, detail = "", None, "waiting for a worker"
    return RunView(
        run_id=run.id, task=run.task, method=run.method, status=status, phase=phase, fraction=fraction,
        detail=detail, requested_at=run.requested_at, error=run.error or "",
        cancellable=run.status in ACTIVE and not run.cancel_requested,
    )  # fmt: skip


def _detail(phase: str, progress: dict[str, Any], done: int, total: int, *, live: bool) -> str:
    eta = progress.get("eta_s")
    left = _duration(eta) if live and isinstance(eta, int | float) and done < total else None
    if phase == PREPARING:
        return "loading data and models"
    if phase == ENCODING:
        return f"{done:,} / {total:,} texts encoded" + (f" · about {left} left" if left else "")
    if phase == TRAINING:
        parts = [f"epoch {progress.get('epoch') or 0} / {progress.get('epochs') or '?'}", f"step {done:,} / {total:,}"]
        if isinstance(progress.get("loss"), int | float):
            parts.append(f"loss {progress['loss']:.4f}")
        if isinstance(progress.get("best_metric"), int | float):
            parts.append(f"best {progress['best_metric']:.3f}")
        if progress.get("stopped_early"):
            parts.append("stopped early")
        elif left:
            parts.append(f"at most {left} left")  # early stopping may end it sooner
        return " · ".join(parts)
    if phase == EVALUATING:
        return f"{progress.get('stage') or 'evaluating'} ({min(done + 1, total)} / {total})"
    return ""


def _duration(seconds: float) -> str:
    whole = max(round(seconds), 0)
    if whole < 60:
        return f"{whole} s"
    minutes = round(whole / 60)
    return f"{minutes} min" if minutes < 60 else f"{minutes // 60} h {minutes % 60:02d} min"
