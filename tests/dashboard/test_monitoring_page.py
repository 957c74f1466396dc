"""The managers' monitoring page on a storm-surge world: drift charts from stored reports,
the alerts inbox (one incident per week), explicit bulk acknowledgement with a
confirmation, one-alert acknowledgement and retraining on the drifted window; a click in
the alerts fragment acts as the user signed in at that moment, and a confirmation stands
for the alerts it showed."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import sessionmaker
from streamlit.testing.v1 import AppTest, local_script_runner

from core import accounts
from core.auth import Actor, Role
from core.monitoring import alerting
from dashboard import ui
from db.models import AuditLog, DriftAlert, DriftReport, TrainingRun, User
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
            accounts.create_user(session, actor=ADMIN, username="max", role=Role.MANAGER, password="a test passphrase")
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


def manager_page(tab: str = "Alerts inbox") -> AppTest:
    """The Monitoring page with `tab` open (as if clicked: only the open tab runs)."""
    app = signed_in(AppTest.from_file(APP, default_timeout=60), "max", "a test passphrase")
    app.run()
    assert not app.exception and app.title[0].value == "Monitoring"
    return open_tab(app, tab)


def open_tab(app: AppTest, tab: str) -> AppTest:
    app.session_state["monitoring_tab"] = tab
    app.run()
    assert not app.exception
    return app


def test_the_page_opens_on_the_overview_and_runs_no_other_tab(storm) -> None:  # type: ignore[no-untyped-def]
    app = signed_in(AppTest.from_file(APP, default_timeout=60), "max", "a test passphrase").run()
    assert not app.exception and app.title[0].value == "Monitoring"
    assert {m.label for m in app.metric} == {"Claims", "Champion claim model", "Decisions"}
    titles = [json.loads(c.proto.spec)["layout"].get("title", {}).get("text", "") for c in app.get("plotly_chart")]
    assert titles and not any(t.startswith(("ROC-AUC", "Alerts per week")) for t in titles)


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
    open_tab(app, "Drift and performance")
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


def in_fragment(app: AppTest) -> AppTest:
    """Rerun only the alerts fragment, as a browser does after a click inside it: the page's
    top (where the page first read the signed-in user) does not run again. AppTest's own
    clicks rerun the whole app, so every rerun request it makes (the runner's first one
    included, or the two would merge into a full run) names the fragment."""
    [fragment_id] = app._fragment_storage.resolve_target("monitoring_alerts")
    request = local_script_runner.RerunData
    with pytest.MonkeyPatch.context() as monkeypatch:
        monkeypatch.setattr(
            local_script_runner, "RerunData", lambda **fields: request(**fields, fragment_id_queue=[fragment_id])
        )
        app.run()
    return app


def disable(app: AppTest, session, user_id: int) -> None:  # type: ignore[no-untyped-def]
    accounts.set_active(session, actor=ADMIN, user_id=user_id, active=False)


def demote(app: AppTest, session, user_id: int) -> None:  # type: ignore[no-untyped-def]
    accounts.change_role(session, actor=ADMIN, user_id=user_id, role=Role.ADJUSTER)


def sign_out_in_another_tab(app: AppTest, session, user_id: int) -> None:  # type: ignore[no-untyped-def]
    accounts.end_session(session, session_id=app.session_state[ui.SESSION_KEY])


def prepare_bulk(app: AppTest) -> str:
    app.button(key="incident_ack").click().run()
    app.text_area(key="incident_ack_note").input("Storm in the south: expected")
    return "incident_ack_confirm"


def prepare_one(app: AppTest) -> str:
    app.selectbox(key="ack_alert").select_index(0)
    app.text_input(key="ack_note").input("Storm in the south: expected")
    return "ack_submit"


def prepare_retrain(app: AppTest) -> str:
    return "drift_retrain"


WRITES = ("drift.incident_acknowledged", "drift.alert_acknowledged", "drift.retraining_queued")


@pytest.mark.parametrize(
    ("change", "prepare", "message"),
    [
        (disable, prepare_bulk, ui.ENDED_BY_CHANGE),
        (demote, prepare_one, ui.ENDED_BY_CHANGE),
        (sign_out_in_another_tab, prepare_retrain, ui.ENDED_MESSAGES["signed out"]),
    ],
    ids=[
        "disabled, then confirms a bulk acknowledgement",
        "demoted, then acknowledges one",
        "signed out, then retrains",
    ],
)
def test_a_click_inside_the_alerts_fragment_acts_as_whoever_is_signed_in_then(storm, change, prepare, message) -> None:  # type: ignore[no-untyped-def]
    sessions, result = storm
    app = manager_page()
    stormy = next(r for r in result.reports if r.alerts)
    app.selectbox(key="drift_week").set_value(stormy.window_start).run()
    button = prepare(app)
    with sessions() as session, session.begin():  # elsewhere: an administrator, or another tab
        change(app, session, session.scalar(select(User.id).where(User.username == "max")))
    app.button(key=button).click()
    in_fragment(app)
    assert not app.exception
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(AuditLog).where(AuditLog.action.in_(WRITES))) == 0
        assert session.scalar(select(func.count()).select_from(TrainingRun).where(TrainingRun.status == "queued")) == 0
    assert open_alerts(sessions) == result.alerts
    # The whole app reran: the sign-in page, saying why.
    assert app.button(key="login_submit") and [i.value for i in app.info] == [message]


def test_a_bulk_confirmation_is_refused_when_someone_acknowledged_an_alert_since_it_was_shown(storm) -> None:  # type: ignore[no-untyped-def]
    sessions, result = storm
    app = manager_page()
    stormy = next(r for r in result.reports if r.alerts)
    app.selectbox(key="drift_week").set_value(stormy.window_start).run()
    n = len(stormy.alerts)
    app.button(key="incident_ack").click().run()
    assert any(f"all {n} open alerts" in w.value for w in app.warning)
    with sessions() as session, session.begin():  # another manager, in another browser
        other = accounts.create_user(
            session, actor=ADMIN, username="mia", role=Role.MANAGER, password="a test passphrase"
        )
        alert_id = session.scalar(
            select(DriftAlert.id)
            .join(DriftReport, DriftReport.id == DriftAlert.report_id)
            .where(DriftReport.window == "week", DriftReport.window_start == stormy.window_start)
            .order_by(DriftAlert.id)
            .limit(1)
        )
        alerting.acknowledge(session, actor=Actor("mia", Role.MANAGER, other.id), alert_id=alert_id, note="Seen: storm")
    app.text_area(key="incident_ack_note").input("Storm in the south: expected")
    app.button(key="incident_ack_confirm").click().run()
    assert not app.exception
    assert any(f"{n - 1} open alerts now, not {n}" in e.value for e in app.error), [e.value for e in app.error]
    assert open_alerts(sessions) == result.alerts - 1  # only the other manager's
    with sessions() as session:
        assert not session.scalars(select(AuditLog).where(AuditLog.action == "drift.incident_acknowledged")).all()
