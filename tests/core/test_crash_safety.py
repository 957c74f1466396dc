"""Processes killed mid-way (SIGKILL, no chance to clean up) lose nothing and duplicate
nothing: an import leaves the database as before it; a scorer's finished chunks stay and
the next run scores exactly the rest."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import func, select, text

from core import registry, scoring
from core.auth import cli_actor
from core.data.generator import GeneratorConfig
from core.data.seeding import generate_import_frame, seed
from core.tasks import Task
from db.models import AuditLog, Claim, Prediction
from db.session import get_sessionmaker, session_scope

ROOT = Path(__file__).parents[2]


def claimlens(*args: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    return subprocess.Popen(
        [sys.executable, "-m", "service", *args], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )


def kill_when(process: subprocess.Popen[bytes], condition: Callable[[], bool], timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert process.poll() is None, f"finished before it could be killed: {process.stdout.read().decode()}"  # type: ignore[union-attr]
        assert time.monotonic() < deadline, "never reached the point to kill it"
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)


def count(model: type, *where) -> int:  # type: ignore[no-untyped-def]
    with session_scope() as session:
        return session.scalar(select(func.count()).select_from(model).where(*where)) or 0


def writing_claims(database_url: str) -> Callable[[], bool]:
    """True while an import transaction is inserting claims (not yet committed)."""
    if database_url.startswith("sqlite"):
        # WAL mode: a large uncommitted transaction spills its pages into the -wal file.
        wal = Path(database_url.removeprefix("sqlite:///") + "-wal")
        start = wal.stat().st_size if wal.exists() else 0
        return lambda: wal.exists() and wal.stat().st_size > start + 1_000_000

    def active() -> bool:
        with session_scope() as session:
            return bool(
                session.scalar(
                    text(
                        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                        "AND state <> 'idle' AND query ILIKE 'INSERT INTO claims%'"
                    )
                )
            )

    return active


def test_an_import_killed_mid_file_leaves_the_database_as_before(configured_database: str, tmp_path: Path) -> None:
    path = tmp_path / "claims.csv"
    generate_import_frame(GeneratorConfig(claims=15_000, seed=21)).to_csv(path, index=False)
    before = count(Claim), count(AuditLog)
    kill_when(claimlens("import", str(path)), writing_claims(configured_database))  # while rows go in
    assert (count(Claim), count(AuditLog)) == before
    again = claimlens("import", str(path))
    assert again.wait(timeout=300) == 0, again.stdout.read().decode()  # type: ignore[union-attr]
    assert count(Claim) == 15_000


def test_scoring_killed_mid_way_then_rerun_scores_every_claim_exactly_once(scored_database: str) -> None:
    with session_scope() as session:
        seed(session, actor=cli_actor(), config=GeneratorConfig(claims=600, seed=99))
        champion = registry.champion(session, Task.CLAIM_RISK).id  # type: ignore[union-attr]
    scored_before = count(Prediction, Prediction.model_version_id == champion)
    process = claimlens("score", "--no-drift", "--explain-limit", "0", "--chunk-size", "16")
    kill_when(process, lambda: count(Prediction, Prediction.model_version_id == champion) >= scored_before + 32)
    partial = count(Prediction, Prediction.model_version_id == champion)
    assert scored_before < partial < count(Claim)
    scoring.score(get_sessionmaker(), actor=cli_actor(), explain_limit=0, device="cpu")
    with session_scope() as session:
        rows, claims = session.execute(
            select(func.count(), func.count(func.distinct(Prediction.claim_id))).where(
                Prediction.model_version_id == champion
            )
        ).one()
    assert rows == claims == count(Claim)
