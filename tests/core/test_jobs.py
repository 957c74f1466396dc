"""The training-run queue: atomic claims across workers, oldest first, cancel, stale-worker reaping."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from core import jobs
from core.auth import Actor, Role, cli_actor
from core.errors import InvalidInput, PermissionDenied
from core.run_spec import TrainingConfig
from db.models import AuditLog, TrainingRun
from db.session import engine_for
from tests.conftest import run_at_once

BOSS = Actor("boss", Role.ADMIN)
CONFIG = TrainingConfig(task="claim_risk").to_dict()


@pytest.fixture
def sessions(database_url: str) -> sessionmaker[Session]:
    return sessionmaker(bind=engine_for(database_url), expire_on_commit=False)


def queue(sessions: sessionmaker[Session], count: int) -> list[int]:
    with sessions() as session, session.begin():
        return [jobs.queue_run(session, actor=BOSS, config=CONFIG).id for _ in range(count)]


def load(sessions: sessionmaker[Session], run_id: int) -> TrainingRun:
    with sessions() as session:
        run = session.get(TrainingRun, run_id)
        assert run is not None
        return run


def set_requested_at(sessions: sessionmaker[Session], times: dict[int, datetime]) -> None:
    with sessions() as session, session.begin():
        for run_id, at in times.items():
            session.get(TrainingRun, run_id).requested_at = at  # type: ignore[union-attr]


def claim_in_own_transaction(sessions: sessionmaker[Session], worker_id: str) -> int | None:
    with sessions() as session, session.begin():
        run = jobs.claim_next_run(session, worker_id=worker_id)
        return None if run is None else run.id


def test_queued_run_stores_config_dates_requester_and_audit(sessions: sessionmaker[Session]) -> None:
    config = TrainingConfig.for_profile("sentiment", "full", since=datetime(2026, 1, 1).date()).to_dict()
    with sessions() as session, session.begin():
        run = jobs.queue_run(session, actor=Actor("meg", Role.MANAGER, user_id=None), config=config)
    stored = load(sessions, run.id)
    assert (stored.status, stored.task, stored.method, stored.profile) == ("queued", "sentiment", "full", "full")
    assert stored.data_since == datetime(2026, 1, 1).date() and stored.data_until is None
    assert stored.config == config and stored.cancel_requested is False
    with sessions() as session:
        entry = session.scalars(select(AuditLog).where(AuditLog.action == "training.queued")).one()
        assert entry.actor == "meg" and entry.entity_id == str(run.id)


def test_claims_take_the_oldest_queued_run_first_not_the_lowest_id(sessions: sessionmaker[Session]) -> None:
    newest, oldest, middle = queue(sessions, 3)
    base = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
    set_requested_at(sessions, {newest: base + timedelta(hours=2), oldest: base, middle: base + timedelta(hours=1)})
    claimed = [claim_in_own_transaction(sessions, "w1") for _ in range(4)]
    assert claimed == [oldest, middle, newest, None]
    run = load(sessions, oldest)
    assert run.status == "running" and run.worker_id == "w1"
    assert run.started_at is not None and run.heartbeat_at is not None


def test_two_workers_claiming_at_the_same_moment_get_the_two_oldest_runs_not_the_same_one(
    sessions: sessionmaker[Session],
) -> None:
    first, second, third = queue(sessions, 3)
    base = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
    set_requested_at(sessions, {third: base, first: base + timedelta(hours=1), second: base + timedelta(hours=2)})
    names = ("w1", "w2")
    by_index, errors = run_at_once(lambda i: claim_in_own_transaction(sessions, names[i]), 2, timeout=60)
    results = {names[i]: run_id for i, run_id in by_index.items()}
    assert errors == []
    assert sorted(results.values()) == sorted([third, first])  # type: ignore[type-var]
    assert {load(sessions, run_id).worker_id for run_id in (third, first)} == {"w1", "w2"}
    assert load(sessions, second).status == "queued"


def test_postgres_worker_skips_a_run_another_open_transaction_has_locked(
    sessions: sessionmaker[Session], backend: str
) -> None:
    if backend != "postgresql":
        pytest.skip("SQLite has one writer at a time; SKIP LOCKED is a PostgreSQL claim")
    first, second = queue(sessions, 2)
    with sessions() as one, one.begin():
        taken = jobs.claim_next_run(one, worker_id="w1")
        with sessions() as two, two.begin():
            other = jobs.claim_next_run(two, worker_id="w2")
    assert taken is not None and other is not None
    assert (taken.id, other.id) == (first, second)


def test_ten_runs_drained_by_two_threads_are_each_claimed_exactly_once(sessions: sessionmaker[Session]) -> None:
    queued = queue(sessions, 10)
    names = ("w1", "w2")

    def drain(i: int) -> list[int]:
        taken = []
        while (run_id := claim_in_own_transaction(sessions, names[i])) is not None:
            taken.append(run_id)
        return taken

    by_index, errors = run_at_once(drain, 2)
    claimed = {names[i]: run_ids for i, run_ids in by_index.items()}
    assert errors == []
    everything = claimed["w1"] + claimed["w2"]
    assert sorted(everything) == sorted(queued) and len(set(everything)) == 10
    with sessions() as session:
        runs = {run.id: run for run in session.scalars(select(TrainingRun))}
    assert all(runs[i].status == "running" for i in queued)
    for name, ids in claimed.items():
        assert all(runs[i].worker_id == name for i in ids)  # the worker recorded is the one that got it


def test_claim_run_on_a_run_another_worker_already_took_returns_none_and_keeps_the_first_worker(
    sessions: sessionmaker[Session],
) -> None:
    (run_id,) = queue(sessions, 1)
    with sessions() as session, session.begin():
        assert jobs.claim_run(session, run_id=run_id, worker_id="w1") is not None
    with sessions() as session, session.begin():
        assert jobs.claim_run(session, run_id=run_id, worker_id="w2") is None
        assert jobs.claim_next_run(session, worker_id="w2") is None
    assert load(sessions, run_id).worker_id == "w1"


def test_cancelling_a_queued_run_cancels_it_at_once_and_no_worker_picks_it_up(sessions: sessionmaker[Session]) -> None:
    cancelled, kept = queue(sessions, 2)
    with sessions() as session, session.begin():
        run = jobs.request_cancel(session, actor=BOSS, run_id=cancelled)
        assert run.status == "cancelled"
    stored = load(sessions, cancelled)
    assert stored.status == "cancelled" and stored.cancel_requested and stored.finished_at is not None
    assert claim_in_own_transaction(sessions, "w1") == kept
    assert claim_in_own_transaction(sessions, "w1") is None
    with sessions() as session:
        entry = session.scalars(select(AuditLog).where(AuditLog.action == "training.cancel_requested")).one()
        assert entry.entity_id == str(cancelled)


def test_cancelling_a_running_run_flags_it_so_the_next_progress_report_says_stop(
    sessions: sessionmaker[Session],
) -> None:
    (run_id,) = queue(sessions, 1)
    assert claim_in_own_transaction(sessions, "w1") == run_id
    with sessions() as session, session.begin():
        assert jobs.report_progress(session, run_id=run_id, progress={"step": 1}) is True
    with sessions() as session, session.begin():
        run = jobs.request_cancel(session, actor=BOSS, run_id=run_id)
        assert run.status == "running"  # the worker stops it between steps, not the request
    with sessions() as session, session.begin():
        assert jobs.report_progress(session, run_id=run_id, progress={"step": 2}) is False
    stored = load(sessions, run_id)
    assert stored.cancel_requested and stored.status == "running" and stored.progress == {"step": 2}


@pytest.mark.parametrize("status", ["succeeded", "failed", "cancelled"])
def test_cancelling_a_finished_run_is_refused(sessions: sessionmaker[Session], status: str) -> None:
    (run_id,) = queue(sessions, 1)
    claim_in_own_transaction(sessions, "w1")
    with sessions() as session, session.begin():
        jobs.finish_run(session, actor=cli_actor(), run_id=run_id, status=status)
    with pytest.raises(InvalidInput, match=f"already {status}"), sessions() as session, session.begin():
        jobs.request_cancel(session, actor=BOSS, run_id=run_id)
    assert load(sessions, run_id).cancel_requested is False


def test_report_progress_refreshes_the_heartbeat_so_an_active_worker_is_not_reaped(
    sessions: sessionmaker[Session],
) -> None:
    (run_id,) = queue(sessions, 1)
    claim_in_own_transaction(sessions, "w1")
    with sessions() as session, session.begin():
        session.get(TrainingRun, run_id).heartbeat_at = datetime.now(UTC) - timedelta(hours=1)  # type: ignore[union-attr]
    with sessions() as session, session.begin():
        jobs.report_progress(session, run_id=run_id, progress={"epoch": 3})
    with sessions() as session, session.begin():
        assert jobs.reap_stale_runs(session, actor=cli_actor(), older_than=timedelta(minutes=5)) == []
    assert load(sessions, run_id).status == "running"


def test_reaping_fails_runs_whose_heartbeat_is_old_and_leaves_fresh_and_queued_runs_alone(
    sessions: sessionmaker[Session],
) -> None:
    stale, fresh, waiting = queue(sessions, 3)
    with sessions() as session, session.begin():
        jobs.claim_run(session, run_id=stale, worker_id="dead")
        jobs.claim_run(session, run_id=fresh, worker_id="alive")
    with sessions() as session, session.begin():
        session.get(TrainingRun, stale).heartbeat_at = datetime.now(UTC) - timedelta(minutes=30)  # type: ignore[union-attr]
        session.get(TrainingRun, fresh).heartbeat_at = datetime.now(UTC) - timedelta(seconds=20)  # type: ignore[union-attr]
        session.get(TrainingRun, waiting).requested_at = datetime.now(UTC) - timedelta(days=2)  # type: ignore[union-attr]
    with sessions() as session, session.begin():
        assert jobs.reap_stale_runs(session, actor=cli_actor(), older_than=timedelta(minutes=5)) == [stale]
    reaped = load(sessions, stale)
    assert reaped.status == "failed" and reaped.finished_at is not None
    assert "worker stopped responding" in (reaped.error or "")
    assert load(sessions, fresh).status == "running" and load(sessions, fresh).error is None
    assert load(sessions, waiting).status == "queued"
    with sessions() as session, session.begin():
        assert jobs.reap_stale_runs(session, actor=cli_actor(), older_than=timedelta(minutes=5)) == []  # nothing twice


def test_a_runs_start_end_and_reaping_are_in_the_audit_log(sessions: sessionmaker[Session]) -> None:
    done, dead = queue(sessions, 2)
    with sessions() as session, session.begin():
        jobs.claim_run(session, run_id=done, worker_id="w1")
        jobs.claim_run(session, run_id=dead, worker_id="w2")
        jobs.finish_run(session, actor=jobs.worker_actor("w1"), run_id=done, status="failed", error="out of memory")
        session.get(TrainingRun, dead).heartbeat_at = datetime.now(UTC) - timedelta(minutes=30)  # type: ignore[union-attr]
    with sessions() as session, session.begin():
        jobs.reap_stale_runs(session, actor=jobs.worker_actor("w3"), older_than=timedelta(minutes=5))
    with sessions() as session:
        logged = session.execute(
            select(AuditLog.actor, AuditLog.action, AuditLog.entity_id)
            .where(AuditLog.action != "training.queued")
            .order_by(AuditLog.id)
        ).all()
    assert [tuple(row) for row in logged] == [
        ("worker:w1", "training.started", str(done)),
        ("worker:w2", "training.started", str(dead)),
        ("worker:w1", "training.failed", str(done)),
        ("worker:w3", "training.reaped", str(dead)),
    ]


def test_default_staleness_is_ten_minutes(sessions: sessionmaker[Session]) -> None:
    nine, eleven = queue(sessions, 2)
    with sessions() as session, session.begin():
        for run_id, minutes in ((nine, 9), (eleven, 11)):
            jobs.claim_run(session, run_id=run_id, worker_id="w")
            session.get(TrainingRun, run_id).heartbeat_at = datetime.now(UTC) - timedelta(minutes=minutes)  # type: ignore[union-attr]
    with sessions() as session, session.begin():
        assert jobs.reap_stale_runs(session, actor=cli_actor()) == [eleven]


@pytest.mark.parametrize("role", [Role.ADJUSTER, Role.COMPLIANCE])
def test_adjusters_and_compliance_can_neither_queue_nor_cancel_runs(
    sessions: sessionmaker[Session], role: Role
) -> None:
    outsider = Actor("ann", role)
    with pytest.raises(PermissionDenied), sessions() as session, session.begin():
        jobs.queue_run(session, actor=outsider, config=CONFIG)
    (run_id,) = queue(sessions, 1)
    with pytest.raises(PermissionDenied), sessions() as session, session.begin():
        jobs.request_cancel(session, actor=outsider, run_id=run_id)
    with sessions() as session:
        assert [run.id for run in session.scalars(select(TrainingRun))] == [run_id]
        assert session.get(TrainingRun, run_id).status == "queued"  # type: ignore[union-attr]


def test_a_cancel_of_a_running_run_reads_as_cancelling_at_once_and_a_second_request_changes_nothing(
    sessions: sessionmaker[Session],
) -> None:
    (run_id,) = queue(sessions, 1)
    claim_in_own_transaction(sessions, "w1")
    encoding = {"phase": "encoding", "done": 1024, "total": 8512, "elapsed_s": 30.0, "eta_s": 219.4}
    with sessions() as session, session.begin():
        jobs.report_progress(session, run_id=run_id, progress=encoding)
        assert jobs.describe(session.get(TrainingRun, run_id)).cancellable  # type: ignore[arg-type]
    with sessions() as session, session.begin():
        jobs.request_cancel(session, actor=BOSS, run_id=run_id)
    with sessions() as session, session.begin():
        (view,) = jobs.run_views(session, actor=BOSS)
        assert (view.status, view.phase, view.cancellable) == ("cancelling…", "encoding", False)
        assert view.in_progress  # the Models page keeps refreshing until the worker has stopped it
        assert view.detail == "1,024 / 8,512 texts encoded · about 4 min left"
        jobs.request_cancel(session, actor=BOSS, run_id=run_id)  # a second tab clicks too
    with sessions() as session:
        entries = session.scalars(select(AuditLog).where(AuditLog.action == "training.cancel_requested")).all()
        assert len(entries) == 1
    with sessions() as session, session.begin():
        jobs.finish_run(session, actor=cli_actor(), run_id=run_id, status="cancelled", error="cancelled by request")
    with sessions() as session:
        (view,) = jobs.run_views(session, actor=BOSS)
        # where it stopped stays visible; no time left is promised for a run that has ended
        assert (view.status, view.phase, view.fraction) == ("cancelled", "encoding", 1024 / 8512)
        assert not view.in_progress  # nothing left to refresh for
        assert view.detail == "1,024 / 8,512 texts encoded"


def test_run_views_show_each_phase_with_its_share_done_and_a_finished_run_full(
    sessions: sessionmaker[Session],
) -> None:
    preparing, training, stopped, evaluating, done, waiting = queue(sessions, 6)
    stored = {
        preparing: {"phase": "preparing", "done": 0, "total": 0},
        training: {"phase": "training", "done": 560, "total": 2820, "epoch": 12, "epochs": 60, "loss": 0.49171,
                   "best_metric": 0.8861, "elapsed_s": 20.0, "eta_s": 80.7},
        stopped: {"phase": "training", "done": 266, "total": 266, "epoch": 14, "epochs": 60, "stopped_early": True},
        evaluating: {"phase": "evaluating", "done": 2, "total": 4, "stage": "comparing with the champion"},
        done: {"phase": "evaluating", "done": 3, "total": 4, "stage": "saving"},
    }  # fmt: skip
    with sessions() as session, session.begin():
        for run_id, progress in stored.items():
            jobs.claim_run(session, run_id=run_id, worker_id="w")
            jobs.report_progress(session, run_id=run_id, progress=progress)
        jobs.finish_run(session, actor=cli_actor(), run_id=done, status="succeeded")
    with sessions() as session:
        views = {view.run_id: view for view in jobs.run_views(session, actor=BOSS)}
    assert (views[preparing].phase, views[preparing].fraction) == ("preparing", None)
    assert views[preparing].detail == "loading data and models"
    assert views[training].fraction == pytest.approx(560 / 2820)
    assert views[training].detail == (
        "epoch 12 / 60 · step 560 / 2,820 · loss 0.4917 · best 0.886 · at most 1 min left"
    )
    assert views[stopped].fraction == 1.0 and views[stopped].detail.endswith("stopped early")
    assert views[evaluating].detail == "comparing with the champion (3 / 4)"
    assert (views[done].status, views[done].phase, views[done].fraction) == ("succeeded", "finished", 1.0)
    assert (views[waiting].status, views[waiting].fraction, views[waiting].detail) == (
        "queued", None, "waiting for a worker"
    )  # fmt: skip
