"""Generate N claims with messages and load them through the import path.

Target (issue 2): 50,000 claims with messages generate and load in under a minute on a
2-core machine. Prints seconds per stage for SQLite and, when DATABASE_URL or
--postgres names one, PostgreSQL.

    .venv/bin/python -m benchmarks.bench_generate_load [--claims 50000] [--postgres URL]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from sqlalchemy.orm import Session

from benchmarks.common import scratch_postgres
from core.auth import cli_actor
from core.data import importing
from core.data.generator import GeneratorConfig, generate
from db import migrate
from db.session import engine_for


def load(url: str, frame) -> tuple[float, int]:  # type: ignore[no-untyped-def]
    migrate.upgrade(url)
    started = time.perf_counter()
    with Session(engine_for(url)) as session, session.begin():
        result, _ = importing.import_claims(session, actor=cli_actor(), frame=frame, source="bench")
    return time.perf_counter() - started, result.imported


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--claims", type=int, default=50_000)
    parser.add_argument("--postgres", help="postgresql+psycopg://user@host/db to create a scratch database on")
    args = parser.parse_args()

    started = time.perf_counter()
    data = generate(GeneratorConfig(claims=args.claims, seed=1, scenario="storm_surge"))
    generate_s = time.perf_counter() - started
    started = time.perf_counter()
    frame = importing.to_import_frame(data.claims, data.messages)
    frame_s = time.perf_counter() - started
    print(f"claims={len(data.claims)} messages={len(data.messages)}")
    print(f"generate: {generate_s:.1f}s  to import format: {frame_s:.1f}s")

    with tempfile.TemporaryDirectory() as folder:
        seconds, imported = load(f"sqlite:///{Path(folder) / 'bench.db'}", frame)
        total = generate_s + frame_s + seconds
        print(f"sqlite: validate+load {seconds:.1f}s ({imported} claims); total {total:.1f}s")

    if args.postgres:
        with scratch_postgres(args.postgres, "claimlens_bench_") as url:
            seconds, imported = load(url, frame)
            total = generate_s + frame_s + seconds
            print(f"postgresql: validate+load {seconds:.1f}s ({imported} claims); total {total:.1f}s")


if __name__ == "__main__":
    main()
