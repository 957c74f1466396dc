"""The managers' monitoring page on a storm-surge world: drift charts from stored reports,
alert acknowledgement and retraining on the drifted window."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select
from streamlit.testing.v1 import AppTest

from core import accounts
from core.auth import Role
from db.models import DriftAlert, TrainingRun
from db.session import reset_caches
from tests.core.monitoring.conftest import ADMIN, build_world

APP = str(Path(__file__).parents[2] / "dashboard" / "app.py")


@pytest.fixture
def storm(tmp_path: Path, tiny_base_model: str, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    sessions, result = build_world(tmp_path, "storm_surge", 8_000, tiny_base_model, monkeypatch)
    with sessions() as session, session.begin():
        manager = accounts.create_user(session, actor=ADMIN, username="max", role=Role.MANAGER, password="0123456789")
    monkeypatch.setenv("DATABASE_URL", str(sessions.kw["bind"].url))
    reset_caches()
    yield sessions, manager.id, result
    reset_caches()


def test_managers_see_drift_acknowledge_alerts_and_queue_retraining(storm) -> None:  # type: ignore[no-untyped-def]
    sessions, manager_id, result = storm
    app = AppTest.from_file(APP, default_timeout=60)
    app.session_state["user_id"], app.session_state["signed_in_at"] = manager_id, datetime.now(UTC)
    app.run()
    assert not app.exception and app.title[0].value == "Monitoring"
    chart_keys = {c.proto.id for c in app.get("plotly_chart")}
    assert len(chart_keys) >= 6  # overview charts, heat map, performance, alert timeline, scores, terms
    stormy = next(r for r in result.reports if r.alerts)
    app.selectbox(key="drift_week").set_value(stormy.window_start).run()
    alerts_shown = app.dataframe[0].value  # the page's only table
    assert len(alerts_shown) == len(stormy.alerts)
    app.multiselect(key="ack_alerts").select(app.multiselect(key="ack_alerts").options[0])
    app.text_input(key="ack_note").input("Storm in the south: expected; retraining")
    app.button(key="ack_submit").click().run()
    assert not app.exception
    app.button(key="drift_retrain").click().run()
    assert any(s.value.startswith("Queued training run") for s in app.success)
    with sessions() as session:
        assert (
            session.scalar(select(func.count()).select_from(DriftAlert).where(DriftAlert.acknowledged_at.isnot(None)))
            == 1
        )
        run = session.scalars(select(TrainingRun).where(TrainingRun.status == "queued")).one()
        assert str(run.data_until) == str(stormy.window_end)
