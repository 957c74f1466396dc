"""The training worker as a real process: killed mid-run, stopped politely, and scaled out."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from core import jobs, registry
from core.auth import cli_actor
from core.data.generator import GeneratorConfig
from core.data.seeding import seed
from core.run_spec import TrainingConfig
from db.models import ModelVersion, TrainingRun
from db.session import engine_for

ROOT = Path(__file__).parents[2]
ADMIN = cli_actor()


@pytest.fixture
def sessions(database_url: str) -> sessionmaker[Session]:
    factory = sessionmaker(bind=engine_for(database_url), expire_on_commit=False)
    with factory() as session, session.begin():
        seed(session, actor=ADMIN, config=GeneratorConfig(claims=600, seed=8))
    return factory


def environment(database_url: str, model_dir: Path, **extra: str) -> dict[str, str]:
    return {**os.environ, "DATABASE_URL": database_url, "CLAIMLENS_MODEL_DIR": str(model_dir),
            "HF_HUB_OFFLINE": "1", "PYTHONUNBUFFERED": "1", **extra}  # fmt: skip


def queue(sessions: sessionmaker[Session], base_model: str, epochs: int) -> int:
    config = TrainingConfig.for_profile("claim_risk", "quick", "full", base_model=base_model, epochs=epochs,
                                        batch_size=16, max_length=48, patience=epochs)  # fmt: skip
    with sessions() as session, session.begin():
        return jobs.queue_run(session, actor=ADMIN, config=config.to_dict()).id


_STARTED: list[subprocess.Popen[bytes]] = []


@pytest.fixture(autouse=True)
def no_worker_outlives_its_test():  # type: ignore[no-untyped-def]
    """A test that fails half-way must not leave its worker training in the background."""
    yield
    while _STARTED:
        worker = _STARTED.pop()
        if worker.poll() is None:
            worker.kill()
            worker.wait(timeout=30)


def start_worker(env: dict[str, str], *args: str) -> subprocess.Popen[bytes]:
    worker = subprocess.Popen([sys.executable, "-m", "service", "worker", *args], cwd=ROOT, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT)  # fmt: skip
    _STARTED.append(worker)
    return worker


def wait_until_training(sessions: sessionmaker[Session], run_id: int, worker: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        with sessions() as session:
            run = session.get(TrainingRun, run_id)
            assert run is not None
            if run.status == "running" and run.progress.get("phase") == "training" and run.progress["done"] > 0:
                return
        assert worker.poll() is None, worker.stdout.read().decode() if worker.stdout else "worker exited"
        time.sleep(0.3)
    pytest.fail("the worker never started training")


def status(sessions: sessionmaker[Session], run_id: int) -> TrainingRun:
    with sessions() as session:
        run = session.get(TrainingRun, run_id)
        assert run is not None
        return run


def test_a_killed_worker_leaves_its_run_failed_and_the_next_worker_carries_on(
    sessions: sessionmaker[Session], database_url: str, model_dir: Path, tiny_base_model: str
) -> None:
    doomed = queue(sessions, tiny_base_model, epochs=500)
    env = environment(database_url, model_dir, CLAIMLENS_WORKER_STALE_SECONDS="2")
    worker = start_worker(env)
    wait_until_training(sessions, doomed, worker)
    worker.send_signal(signal.SIGKILL)
    worker.wait(timeout=30)
    assert status(sessions, doomed).status == "running"  # nobody could say otherwise yet
    time.sleep(2.5)
    survivor = queue(sessions, tiny_base_model, epochs=1)
    second = start_worker(env, "--once")
    output = second.communicate(timeout=240)[0].decode()
    assert second.returncode == 0, output
    dead = status(sessions, doomed)
    assert dead.status == "failed" and "stopped responding" in (dead.error or "")
    assert status(sessions, survivor).status == "succeeded", status(sessions, survivor).error
    with sessions() as session:
        assert session.scalar(select(ModelVersion).where(ModelVersion.training_run_id == doomed)) is None
        champion = registry.champion(session, "claim_risk")
        assert champion is not None and champion.training_run_id == survivor


def test_sigterm_marks_the_run_failed_and_keeps_the_champion(
    sessions: sessionmaker[Session], database_url: str, model_dir: Path, tiny_base_model: str
) -> None:
    run_id = queue(sessions, tiny_base_model, epochs=500)
    worker = start_worker(environment(database_url, model_dir))
    wait_until_training(sessions, run_id, worker)
    worker.send_signal(signal.SIGTERM)
    assert worker.wait(timeout=60) == 0
    run = status(sessions, run_id)
    assert run.status == "failed" and "SIGTERM" in (run.error or "")
    with sessions() as session:
        assert registry.champion(session, "claim_risk") is None


def test_data_parallel_training_with_two_cpu_processes(
    backend: str, sessions: sessionmaker[Session], database_url: str, model_dir: Path, tiny_base_model: str
) -> None:
    if backend != "sqlite":
        pytest.skip("one backend is enough to prove the launcher; the database code is shared")
    command = [
        sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2",
        "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no",
        "-m", "service.launch", "claim", "--cpu", "--profile", "quick", "--base-model", tiny_base_model,
        "--epochs", "2", "--batch-size", "16",
    ]  # fmt: skip
    env = environment(database_url, model_dir, MASTER_PORT=str(29500 + os.getpid() % 1000))
    result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, timeout=300)
    output = (result.stdout + result.stderr).decode()
    assert result.returncode == 0, output[-3000:]
    assert "on 2 processes" in output
    with sessions() as session:
        version = session.scalars(select(ModelVersion)).one()
        assert version.metrics["processes"] == 2 and version.stage == "champion"
