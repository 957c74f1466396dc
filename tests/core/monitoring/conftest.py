"""Scenario worlds for monitoring tests: generator data, tiny champions trained on the
months before the scenario's shift, everything scored, drift reports stored."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from core import scoring
from core.auth import cli_actor
from core.data.generator import GeneratorConfig
from core.data.seeding import seed
from core.monitoring.report import run_drift
from core.monitoring.results import DriftRun
from db import migrate
from db.session import engine_for, reset_caches
from tests.conftest import train_tiny

TRAIN_UNTIL = date(2026, 4, 30)  # the generator's default shift date is 2026-05-01
ADMIN = cli_actor()


def train(sessions: sessionmaker[Session], base_model: str, task: str, until: date | None) -> object:
    return train_tiny(sessions, base_model, task, epochs=3, until=until)


def build_world(
    folder: Path, scenario: str, claims: int, base_model: str, monkeypatch: pytest.MonkeyPatch
) -> tuple[sessionmaker[Session], DriftRun]:
    url = f"sqlite:///{folder / 'world.db'}"
    monkeypatch.setenv("CLAIMLENS_MODEL_DIR", str(folder / "models"))
    reset_caches()
    migrate.upgrade(url)
    sessions = sessionmaker(bind=engine_for(url), expire_on_commit=False)
    with sessions() as session, session.begin():
        seed(session, actor=ADMIN, config=GeneratorConfig(claims=claims, seed=3, scenario=scenario))  # type: ignore[arg-type]
    for task in ("claim_risk", "sentiment"):
        assert train(sessions, base_model, task, TRAIN_UNTIL).promoted  # type: ignore[attr-defined]
    scoring.score(sessions, actor=ADMIN, explain_limit=0, device="cpu")
    with sessions() as session, session.begin():
        result = run_drift(session, actor=ADMIN, window="week")
    return sessions, result


@pytest.fixture(scope="module")
def scenario_world(tmp_path_factory: pytest.TempPathFactory, tiny_base_model: str, request: pytest.FixtureRequest):  # type: ignore[no-untyped-def]
    scenario, claims = request.param
    with pytest.MonkeyPatch.context() as monkeypatch:
        yield build_world(tmp_path_factory.mktemp(scenario), scenario, claims, tiny_base_model, monkeypatch)
    reset_caches()
