"""One drift report over a database of 1,000,000 scored claims (target: under 10 s on the
2-core CPU).

The claims and predictions are filled with set-based SQL (`benchmarks/bench_queue.py`),
two years of report dates; the champion's reference window is the year before the last
two weeks, so the report compares the one complete week after it (~9,600 claims) with it. What a report costs does
not grow with the table: the reference is a 20,000-row sample, the embedding check uses
300 + 600 narratives and the changed-terms check 5,000 per side (`core/monitoring/report.py`);
the rest are per-column statistics on the window's rows.

    .venv/bin/python -m benchmarks.bench_drift --model models/claim_risk/run-1 [--claims 1000000] [--sqlite-path P]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from benchmarks.bench_queue import ensure_filled
from core.auth import cli_actor
from core.monitoring.report import run_drift
from db import migrate
from db.models import Claim, ModelVersion, TrainingRun
from db.session import engine_for


def prepare(url: str, claims: int, model: str) -> date:
    migrate.upgrade(url)
    engine = engine_for(url)
    seconds = ensure_filled(engine, claims)
    if seconds is not None:
        print(f"filled {claims:,} claims in {sum(seconds.values()):.1f} s")
    with Session(engine) as session, session.begin():
        last = session.scalar(select(func.max(Claim.report_date)))
        run = TrainingRun(
            task="claim_risk",
            method="head",
            profile="quick",
            config={},
            status="succeeded",
            data_since=last - timedelta(days=372),
            data_until=last - timedelta(days=15),
            progress={},
            data_manifest={},
        )
        session.add(run)
        session.flush()
        session.execute(
            update(ModelVersion).values(
                artifact_path=model,
                training_run_id=run.id,
                metrics={"summary": {"roc_auc": 0.8}},
                parameters={"thresholds": {"high": 0.7, "medium": 0.4}},
            )
        )
    return last


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--claims", type=int, default=1_000_000)
    parser.add_argument("--model", required=True, help="a claim-risk model folder (for the embedding check)")
    parser.add_argument("--sqlite-path", type=Path, default=Path(tempfile.gettempdir()) / "claimlens-bench-drift.db")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    url = f"sqlite:///{args.sqlite_path}"
    last = prepare(url, args.claims, str(Path(args.model).resolve()))
    engine = engine_for(url)
    with Session(engine) as session:
        started = time.perf_counter()
        result = run_drift(session, actor=cli_actor(), window="week", until=last)
        seconds = time.perf_counter() - started
        session.rollback()  # leave the database as filled, so the run can be repeated
    claims = sum(r.claims for r in result.reports)
    print(
        f"{len(result.reports)} weekly report(s) over {claims:,} current claims against {result.reference_start} .. "
        f"{result.reference_end} ({args.claims:,} claims stored): {seconds:.1f} s, "
        f"{seconds / max(len(result.reports), 1):.1f} s per report; {result.alerts} alert(s)"
    )


if __name__ == "__main__":
    main()
