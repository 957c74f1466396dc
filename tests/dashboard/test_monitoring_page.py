"""The managers' monitoring page on a storm-surge world: drift charts from stored reports,
the alerts inbox (one incident per week), explicit bulk acknowledgement with a
confirmation, one-alert acknowledgement and retraining on the drifted window."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import sessionmaker
from streamlit.testing.v1 import AppTest

from core import accounts
from core.auth import Role
from db.models import AuditLog, DriftAlert, TrainingRun
from db.session import engine_for, reset_caches
from tests.core.monitoring.conftest import ADMIN, build_world
from tests.dashboard.signing import signed_in

APP = str(Path(__file__).parents[2] / "dashboard" / "app.py")


@pytest.fixture(scope="module")
def storm_world(tmp_path_factory: pytest.TempPathFactory, tiny_base_model: str):  # type: ignore[no-untyped-def]
    """Built once (seeding, two tiny champions, scoring, drift); each test gets a copy."""
    folder = tmp_path_factory.mktemp("storm")
    with pytest.MonkeyPatch.context() as monkeypatch:
        sessions, result = build_world(folder, "storm_surge", 8_000, tiny_base_model, monkeypatch)
        with sessions() as session, session.begin():
            accounts.create_user(session, actor=ADMIN, username="max", role=Role.MANAGER, password="0123456789")
        reset_caches()
        yield folder, result
    reset_caches()


@pytest.fixture
def storm(storm_world, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    folder, result = storm_world
    with sqlite3.connect(folder / "world.db") as source, sqlite3.connect(tmp_path / "world.db") as copy:
        source.backup(copy)
    url = f"sqlite:///{tmp_path / 'world.db'}"
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("CLAIMLENS_MODEL_DIR", str(folder / "models"))
    reset_caches()
    yield sessionmaker(bind=engine_for(url), expire_on_commit=False), result
    reset_caches()


def manager_page() -> AppTest:
    app = signed_in(AppTest.from_file(APP, default_timeout=60), "max", "0123456789")
    app.run()
    assert not app.exception and app.title[0].value == "Monitoring"
    return app


def chart(app: AppTest, title: str) -> dict:  # type: ignore[type-arg]
    specs = [json.loads(c.proto.spec) for c in app.get("plotly_chart")]
    return next(s for s in specs if s["layout"].get("title", {}).get("text", "").startswith(title))


def table(app: AppTest, column: str):  # type: ignore[no-untyped-def]
    """The first table on the page with this column (AppTest does not expose a table's key)."""
    return next(t.value for t in app.dataframe if column in t.value.columns)


def open_alerts(sessions) -> int:  # type: ignore[no-untyped-def]
    with sessions() as session:
        return session.scalar(select(func.count()).select_from(DriftAlert).where(DriftAlert.acknowledged_at.is_(None)))


def test_the_page_opens_on_the_newest_week_with_open_alerts_and_counts_them(storm) -> None:  # type: ignore[no-untyped-def]
    sessions, result = storm
    app = manager_page()
    newest_alerting = max(r.window_start for r in result.reports if r.alerts)
    assert max(r.window_start for r in result.reports) > newest_alerting  # the newest week itself is quiet
    assert app.selectbox(key="drift_week").value == newest_alerting
    assert not any(s.value == "No alerts this week." for s in app.success)
    counts = {m.label: m.value for m in app.metric}
    assert counts["Open alerts"] == f"{open_alerts(sessions):,}" and open_alerts(sessions) == result.alerts
    assert counts["Weeks with open alerts"] == str(sum(bool(r.alerts) for r in result.reports))
    timeline = chart(app, "Alerts per week and signal")
    assert timeline["layout"]["showlegend"] is True and {t["name"] for t in timeline["data"]} == {"open"}
    performance = chart(app, "ROC-AUC: estimated vs realized")
    assert "no concept drift" in performance["layout"]["title"]["text"]
    band = next(t for t in performance["data"] if t["name"].startswith("estimate ±2 sd"))
    assert max(band["y"]) <= 1.0 and min(band["y"]) >= 0.0
    assert any("calibrated as on its test claims" in c.value for c in app.caption)


def test_one_click_acknowledges_nothing_and_a_whole_incident_needs_a_confirmation(storm) -> None:  # type: ignore[no-untyped-def]
    sessions, result = storm
    app = manager_page()
    stormy = next(r for r in result.reports if r.alerts)
    app.selectbox(key="drift_week").set_value(stormy.window_start).run()
    assert len(table(app, "what")) == len(stormy.alerts)
    matrix = table(app, "all")  # signals × segments, "all" claims first
    assert (matrix == "●").to_numpy().sum() == len(stormy.alerts)  # signals × segments, one mark per alert
    assert not app.get("multiselect")  # no "Select all" to click by accident
    assert app.selectbox(key="ack_alert").value is None  # nothing preselected
    n = len(stormy.alerts)
    app.button(key="incident_ack").click().run()
    assert open_alerts(sessions) == result.alerts  # asking is not doing
    assert any(f"all {n} open alerts of the week of {stormy.window_start}" in w.value for w in app.warning)
    app.button(key="incident_ack_confirm").click().run()
    assert any("say what you did" in e.value for e in app.error) and open_alerts(sessions) == result.alerts
    app.text_area(key="incident_ack_note").input("Storm in the south: expected; retraining")
    app.button(key="incident_ack_confirm").click().run()
    assert not app.exception
    assert any(s.value == f"Acknowledged {n} alerts of the week of {stormy.window_start}." for s in app.success)
    assert open_alerts(sessions) == result.alerts - n
    with sessions() as session:
        [entry] = session.scalars(select(AuditLog).where(AuditLog.action == "drift.incident_acknowledged")).all()
    assert len(entry.details["alerts"]) == n
    assert {m.label: m.value for m in app.metric}["Open alerts"] == f"{result.alerts - n:,}"
    assert app.selectbox(key="drift_week").value == stormy.window_start  # still on the week just handled


def test_managers_acknowledge_one_alert_and_queue_retraining(storm) -> None:  # type: ignore[no-untyped-def]
    sessions, result = storm
    app = manager_page()
    stormy = next(r for r in result.reports if r.alerts)
    app.selectbox(key="drift_week").set_value(stormy.window_start).run()
    app.button(key="ack_submit").click().run()
    assert any(e.value == "Choose the alert to acknowledge." for e in app.error)
    app.selectbox(key="ack_alert").select_index(0)
    app.text_input(key="ack_note").input("Storm in the south: expected")
    app.button(key="ack_submit").click().run()
    assert not app.exception and any(s.value.startswith("Acknowledged: ") for s in app.success)
    assert open_alerts(sessions) == result.alerts - 1
    app.button(key="drift_retrain").click().run()
    assert any(s.value.startswith("Queued training run") for s in app.success)
    with sessions() as session:
        run = session.scalars(select(TrainingRun).where(TrainingRun.status == "queued")).one()
        assert str(run.data_until) == str(stormy.window_end)
