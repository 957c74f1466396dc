"""The managers' training-runs table (Models page): a run's phase and progress from its
first encoded batch, and a cancel acknowledged at once, before the worker has acted."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from streamlit.testing.v1 import AppTest

from core import accounts, jobs
from core.auth import Role, cli_actor
from core.run_spec import TrainingConfig
from db.models import AuditLog, TrainingRun
from db.session import engine_for
from tests.dashboard.signing import signed_in

APP = str(Path(__file__).parents[2] / "dashboard" / "app.py")
PASSWORD = "a test passphrase"
ENCODING = {"phase": "encoding", "done": 1536, "total": 8512, "elapsed_s": 45.0, "eta_s": 204.4}


@pytest.fixture
def sessions(configured_database: str) -> sessionmaker[Session]:
    factory = sessionmaker(bind=engine_for(configured_database), expire_on_commit=False)
    with factory() as session, session.begin():
        accounts.create_user(session, actor=cli_actor(), username="max", role=Role.MANAGER, password=PASSWORD)
    return factory


def encoding_run(sessions: sessionmaker[Session]) -> int:
    """A run a worker has claimed and is encoding texts for, as the worker stores it."""
    with sessions() as session, session.begin():
        run = jobs.queue_run(session, actor=cli_actor(), config=TrainingConfig(task="claim_risk").to_dict())
        jobs.claim_run(session, run_id=run.id, worker_id="w1")
        jobs.report_progress(session, run_id=run.id, progress=ENCODING)
        return run.id


def models_page() -> AppTest:
    app = AppTest.from_file(APP, default_timeout=60)
    signed_in(app, "max", PASSWORD).run()
    app.switch_page("pages/manager/models.py").run()
    assert not app.exception
    return app


def runs_table(app: AppTest) -> pd.DataFrame:
    return next(frame.value for frame in app.dataframe if "phase" in frame.value.columns)


def test_an_encoding_run_shows_its_phase_share_done_and_time_left(sessions: sessionmaker[Session]) -> None:
    run_id = encoding_run(sessions)
    row = runs_table(models_page()).set_index("run").loc[run_id]
    assert (row["status"], row["phase"]) == ("running", "encoding")
    assert row["progress"] == pytest.approx(1536 / 8512)
    assert row["detail"] == "1,536 / 8,512 texts encoded · about 3 min left"


def test_cancel_says_cancelling_at_once_and_the_table_shows_it_until_the_worker_stops(
    sessions: sessionmaker[Session],
) -> None:
    run_id = encoding_run(sessions)
    app = models_page()
    assert app.selectbox(key="runs_cancel_choice").value == run_id
    app.button(key="runs_cancel").click().run()
    assert not app.exception
    assert [i.value for i in app.info if "Cancelling" in i.value] == [
        f"Cancelling run {run_id}… the worker stops it at its next progress check, within seconds."
    ]
    row = runs_table(app).set_index("run").loc[run_id]
    assert (row["status"], row["phase"]) == ("cancelling…", "encoding")
    assert "runs_cancel_choice" not in [box.key for box in app.selectbox]  # nothing left to cancel
    with sessions() as session:
        run = session.get(TrainingRun, run_id)
        assert run is not None and run.cancel_requested and run.status == "running"
        assert session.scalar(select(AuditLog.actor).where(AuditLog.action == "training.cancel_requested")) == "max"
    with sessions() as session, session.begin():  # the worker's next progress check
        assert jobs.report_progress(session, run_id=run_id, progress=ENCODING) is False
        jobs.finish_run(session, actor=cli_actor(), run_id=run_id, status="cancelled", error="cancelled by request")
    app.run()
    assert [s.value for s in app.success] == [f"Run {run_id} cancelled."]
    assert not [i for i in app.info if "Cancelling" in i.value]
    assert runs_table(app).set_index("run").loc[run_id, "status"] == "cancelled"


def test_a_queued_run_is_cancelled_on_the_click(sessions: sessionmaker[Session]) -> None:
    with sessions() as session, session.begin():
        run_id = jobs.queue_run(session, actor=cli_actor(), config=TrainingConfig(task="sentiment").to_dict()).id
    app = models_page()
    assert runs_table(app).set_index("run").loc[run_id, "detail"] == "waiting for a worker"
    app.button(key="runs_cancel").click().run()
    assert [s.value for s in app.success] == [f"Run {run_id} cancelled."]
    assert runs_table(app).set_index("run").loc[run_id, "status"] == "cancelled"
