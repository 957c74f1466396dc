"""Memory of a large import: `claimlens import` of a generated CSV of about `--mb`
megabytes into a fresh SQLite database, in a child process whose peak resident memory is
read from the kernel (ru_maxrss). The baseline is the same command line importing
nothing (`db upgrade` of the empty database: the interpreter, its libraries and SQLite),
so the figure that matters is what the file adds.

The file is read, validated and loaded `core.data.importing.READ_CHUNK_ROWS` rows at a
time inside one transaction, so what the file adds should stay flat as the file grows.

    .venv/bin/python -m benchmarks.bench_import_memory [--mb 100]
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from core.data.generator import GeneratorConfig
from core.data.seeding import generate_import_frame

BASE_CLAIMS = 4_000  # generated once, then repeated under new claim numbers up to the size asked


def write_csv(path: Path, megabytes: float) -> int:
    base = generate_import_frame(GeneratorConfig(claims=BASE_CLAIMS, seed=5))
    per_copy = len(base.to_csv(index=False).encode())
    copies = max(1, round(megabytes * 1e6 / per_copy))
    with path.open("w", encoding="utf-8", newline="") as out:
        for k in range(copies):
            part = base.assign(claim_number=[f"CLM-B{k:03d}-{i:05d}" for i in range(len(base))])
            part.to_csv(out, index=False, header=k == 0)
    return copies * len(base)


def peak_mb(args: list[str], env: dict[str, str]) -> tuple[float, float]:
    """(peak resident MB, seconds) of one child process."""
    start = time.perf_counter()
    subprocess.run(args, env=env, check=True, stdout=subprocess.DEVNULL)
    seconds = time.perf_counter() - start
    # ru_maxrss of the largest child so far: run the smaller process first
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mb", type=float, default=100.0)
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        csv_path = work / "claims.csv"
        rows = write_csv(csv_path, options.mb)
        env = {**os.environ, "DATABASE_URL": f"sqlite:///{work / 'claims.db'}", "HF_HUB_OFFLINE": "1"}
        cli = [sys.executable, "-m", "service"]
        baseline, _ = peak_mb([*cli, "db", "upgrade"], env)
        peak, seconds = peak_mb([*cli, "import", str(csv_path)], env)
        size = csv_path.stat().st_size / 1e6
    print(f"file: {size:.0f} MB, {rows:,} claims")
    print(f"baseline (db upgrade: interpreter, libraries): {baseline:.0f} MB")
    added = peak - baseline
    print(
        f"import: peak {peak:.0f} MB, {added:.0f} MB over the baseline ({added / size:.2f}× the file), {seconds:.0f} s"
    )


if __name__ == "__main__":
    main()
