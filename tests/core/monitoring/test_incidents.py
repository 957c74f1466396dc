"""Alert incidents on stored reports (both backends): a week's alerts are one incident of
signals × segments, a window never repeats an alert for the same signal and segment, the
inbox counts open alerts and opens on the newest week that has some, and acknowledging a
whole incident is one audited, role-checked action that refuses a stale count; of two
managers acknowledging the same alerts at once exactly one lands."""

from __future__ import annotations

import contextlib
import threading
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from core import accounts, audit
from core.auth import Actor, Role, cli_actor
from core.errors import InvalidInput, PermissionDenied
from core.monitoring import alerting, drift, incidents, report, results
from db.models import AuditLog, DriftAlert, DriftReport, ModelVersion
from db.session import engine_for
from tests.conftest import run_at_once

ADMIN = cli_actor()
MONDAY = date(2026, 5, 4)


def metric(family: str, name: str, segment: str, drifting: bool = True, severity: float = 2.0) -> drift.Metric:
    m = drift.Metric(family, name, segment, "psi+ks", 0.3, 0.1, 1e-9, 1000, 300)
    m.drift, m.severity = drifting, severity
    return m


STORM = [
    metric("field", "claimed_amount", "all"),
    metric("field", "claimed_amount", "region=south"),
    metric("field", "region", "all"),
    metric("field", "report_delay", "region=south"),
    metric("field", "report_delay", "line_of_business=property"),
    metric("text", "narrative_embeddings", "all"),
    metric("field", "witnesses", "all", drifting=False),
]


def store(session: Session, version: ModelVersion, start: date, metrics: list[drift.Metric]) -> results.ReportSummary:
    computed = report.ComputedWindow(start, start + timedelta(days=6), 300, metrics, [])
    return report.store_window(
        session,
        version=version,
        window="week",
        reference=(date(2025, 11, 1), date(2026, 3, 8)),
        computed=computed,
        thresholds=drift.DriftThresholds(),
    )


@pytest.fixture
def world(session: Session) -> tuple[Session, ModelVersion, Actor]:
    """A champion with four weekly reports: a storm week, a quieter one after it, a week
    without alerts and, newest, another week without alerts."""
    with session.begin():
        version = ModelVersion(
            task="claim_risk", version=1, stage="champion", artifact_path="x", base_model="x", method="head"
        )
        session.add(version)
        session.flush()
        store(session, version, MONDAY - timedelta(days=7), [])
        store(session, version, MONDAY, STORM)
        store(session, version, MONDAY + timedelta(days=7), [metric("field", "claimed_amount", "region=south")])
        store(session, version, MONDAY + timedelta(days=14), [])
        user = accounts.create_user(
            session, actor=ADMIN, username="max", role=Role.MANAGER, password="a test passphrase"
        )
    return session, version, Actor("max", Role.MANAGER, user.id)


def test_a_weeks_alerts_are_one_incident_of_signals_by_segments(world) -> None:  # type: ignore[no-untyped-def]
    session, _, manager = world
    with session.begin():
        box = incidents.inbox(session, actor=manager)
    assert [i.window_start for i in box.incidents] == [MONDAY + timedelta(days=7), MONDAY]  # newest first
    storm = box.incident(MONDAY)
    assert storm is not None and len(storm.alerts) == 6 and storm.open == 6
    assert storm.signals == [
        "field: claimed_amount",
        "field: region",
        "field: report_delay",
        "text: narrative_embeddings",
    ]
    assert storm.segments == ["all", "line_of_business=property", "region=south"]
    matrix = storm.matrix()
    assert matrix.loc["field: claimed_amount", "region=south"] == incidents.OPEN
    assert matrix.loc["field: region", "region=south"] == ""
    assert (matrix == incidents.OPEN).to_numpy().sum() == 6  # one cell per alert
    assert storm.summary() == "6 alerts (6 open): 4 signals × 3 segments"


def test_a_window_raises_one_alert_per_signal_and_segment(world) -> None:  # type: ignore[no-untyped-def]
    session, version, _ = world
    repeated = [
        metric("field", "claimed_amount", "all", severity=1.5),
        metric("field", "claimed_amount", "all", severity=4.0),
    ]
    assert [m.severity for m in alerting.alerts_to_raise(repeated)] == [4.0]  # the most severe one
    with session.begin():
        summary = store(session, version, MONDAY + timedelta(days=21), repeated)
    assert len(summary.alerts) == 1
    with session.begin():
        stored = session.scalars(
            select(DriftReport).where(DriftReport.window_start == MONDAY + timedelta(days=21))
        ).one()
        assert stored.alerts == 1
        # The database refuses a repeat written by any other path too.
        session.add(
            DriftAlert(
                report_id=stored.id,
                family="field",
                metric="claimed_amount",
                segment="all",
                value=1.0,
                threshold=0.1,
                message="again",
            )
        )
        with pytest.raises(IntegrityError):
            session.flush()


def test_the_inbox_counts_open_alerts_and_opens_on_the_newest_week_with_open_alerts(world) -> None:  # type: ignore[no-untyped-def]
    session, _, manager = world
    with session.begin():
        box = incidents.inbox(session, actor=manager)
        assert box.open_alerts == 7 and len(box.open_incidents) == 2
        assert box.latest_open().window_start == MONDAY + timedelta(days=7)  # not the newest, quiet, week
        newest = box.latest_open()
        [alert] = newest.open_alerts
        alerting.acknowledge(session, actor=manager, alert_id=alert.id, note="Known storm tail")
    with session.begin():
        box = incidents.inbox(session, actor=manager)
    assert box.open_alerts == 6 and box.latest_open().window_start == MONDAY
    assert (
        box.incident(MONDAY + timedelta(days=7)).matrix().loc["field: claimed_amount", "region=south"] == "acknowledged"
    )


def test_acknowledging_an_incident_acknowledges_all_its_open_alerts_in_one_audit_entry(world) -> None:  # type: ignore[no-untyped-def]
    session, _, manager = world
    with session.begin():
        storm = incidents.inbox(session, actor=manager).incident(MONDAY)
        alerting.acknowledge(session, actor=manager, alert_id=storm.alerts[0].id, note="Storm: amounts expected")
    with session.begin():
        with pytest.raises(InvalidInput, match="5 open alerts now, not 6"):  # the page showed 6 before
            incidents.acknowledge_incident(
                session, actor=manager, report_id=storm.report_id, note="All storm", expected=6
            )
        with pytest.raises(InvalidInput, match="say what you did"):
            incidents.acknowledge_incident(session, actor=manager, report_id=storm.report_id, note="  ", expected=5)
    with session.begin():
        done = incidents.acknowledge_incident(
            session, actor=manager, report_id=storm.report_id, note="Storm in the south: expected", expected=5
        )
    assert done == 5
    with session.begin():
        box = incidents.inbox(session, actor=manager)
        entries = session.scalars(select(AuditLog).where(AuditLog.action == "drift.incident_acknowledged")).all()
        with pytest.raises(InvalidInput, match="already acknowledged"):
            incidents.acknowledge_incident(session, actor=manager, report_id=storm.report_id, note="again", expected=0)
    storm = box.incident(MONDAY)
    assert storm.open == 0 and {a.acknowledgement for a in storm.alerts[1:]} == {"Storm in the south: expected"}
    assert {a.acknowledged_by for a in storm.alerts} == {"max"}
    [entry] = entries
    assert entry.entity_type == "drift_report" and entry.entity_id == str(storm.report_id)
    assert len(entry.details["alerts"]) == 5 and entry.details["note"] == "Storm in the south: expected"
    assert box.open_alerts == 1  # the other week's alert is untouched


@pytest.mark.parametrize("role", [Role.ADJUSTER, Role.COMPLIANCE])
def test_only_managers_acknowledge_an_incident(world, role: Role) -> None:  # type: ignore[no-untyped-def]
    session, _, manager = world
    with session.begin():
        storm = incidents.inbox(session, actor=manager).incident(MONDAY)
        with pytest.raises(PermissionDenied):
            incidents.acknowledge_incident(
                session, actor=Actor("someone", role, None), report_id=storm.report_id, note="x", expected=6
            )
        assert (
            session.scalar(select(func.count()).select_from(DriftAlert).where(DriftAlert.acknowledged_at.isnot(None)))
            == 0
        )


@pytest.fixture
def racing(world, database_url: str, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """Two managers, each acting in a session of their own. Each action is held at its audit
    entry until the other has got there too (or 2 s have passed: on PostgreSQL the row lock
    keeps the second one waiting before it), so both read the open alerts before either
    writes: the race is certain, not merely likely."""
    session, _, max_ = world
    with session.begin():
        mia = accounts.create_user(
            session, actor=ADMIN, username="mia", role=Role.MANAGER, password="a test passphrase"
        )
        storm = incidents.inbox(session, actor=max_).incident(MONDAY)
    both_read = threading.Barrier(2)
    record = audit.record

    def held_record(*args, **kwargs):  # type: ignore[no-untyped-def]
        with contextlib.suppress(threading.BrokenBarrierError):  # the other one is waiting for a lock
            both_read.wait(timeout=2)
        return record(*args, **kwargs)

    monkeypatch.setattr(audit, "record", held_record)
    managers = [max_, Actor("mia", Role.MANAGER, mia.id)]

    def act(action):  # type: ignore[no-untyped-def]
        def run(i: int):  # type: ignore[no-untyped-def]
            with Session(engine_for(database_url), expire_on_commit=False) as own, own.begin():
                return action(own, managers[i])

        return run_at_once(run, 2)

    return session, storm, managers, act


def acknowledgements(session: Session, action: str) -> tuple[list[AuditLog], set[tuple[int | None, str | None]]]:
    with session.begin():
        entries = session.scalars(select(AuditLog).where(AuditLog.action == action)).all()
        marks = set(
            session.execute(
                select(DriftAlert.acknowledged_by_id, DriftAlert.acknowledgement).where(
                    DriftAlert.acknowledged_at.isnot(None)
                )
            ).all()
        )
    return list(entries), {tuple(m) for m in marks}  # type: ignore[misc]


def test_two_managers_acknowledging_one_incident_at_once_land_one_acknowledgement(racing) -> None:  # type: ignore[no-untyped-def]
    session, storm, managers, act = racing
    results, errors = act(
        lambda s, manager: incidents.acknowledge_incident(
            s, actor=manager, report_id=storm.report_id, note=f"handled by {manager.username}", expected=6
        )
    )
    assert list(results.values()) == [6] and len(errors) == 1, errors
    assert isinstance(errors[0], InvalidInput) and "acknowledged" in str(errors[0])
    winner = managers[next(iter(results))]
    entries, marks = acknowledgements(session, "drift.incident_acknowledged")
    assert [e.actor for e in entries] == [winner.username]
    assert marks == {(winner.user_id, f"handled by {winner.username}")}  # nobody's note overwritten


def test_two_managers_acknowledging_one_alert_at_once_land_one_acknowledgement(racing) -> None:  # type: ignore[no-untyped-def]
    session, storm, managers, act = racing
    alert_id = storm.alerts[0].id
    results, errors = act(
        lambda s, manager: alerting.acknowledge(s, actor=manager, alert_id=alert_id, note=f"seen by {manager.username}")
    )
    assert list(results.values()) == [alert_id] and len(errors) == 1, errors
    assert isinstance(errors[0], InvalidInput) and "already acknowledged" in str(errors[0])
    winner = managers[next(iter(results))]
    entries, marks = acknowledgements(session, "drift.alert_acknowledged")
    assert [e.actor for e in entries] == [winner.username]
    assert marks == {(winner.user_id, f"seen by {winner.username}")}
