"""From an insurer's own file to its first scored claim: for each real-insurer layout of
`tests/fixtures/layouts.py` (`--rows` claims, 3,000 by default), the steps a new user
runs, each as the CLI command in a fresh SQLite database, timed:

    schema infer → (README's edit) → schema check → import → train claim --profile quick → score

and the trained model's test ROC-AUC (time split) beside the logistic-regression
baseline on the same columns (fields alone for a book without text; TF-IDF + fields for
one with text), as `train` stored them on the model version.

    .venv/bin/python -m benchmarks.bench_own_claims [--rows 3000] [--layouts uk_motor ...]

Times depend on the CPU (the encoder's matrix multiplications use AVX2 / AVX-512 and,
where the CPU has it, AMX bf16): `lscpu` flags are printed with the results.
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.bench_first_run import cpu_flags
from tests.fixtures.layouts import INFER, LAYOUTS, drafted

CLI = [sys.executable, "-m", "service"]


def _run(step: str, arguments: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    done = subprocess.run([*CLI, *arguments], env=env, capture_output=True, text=True, check=False)
    if done.returncode:
        raise SystemExit(f"{step} failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    return time.perf_counter() - started


def measure(name: str, rows: int, folder: Path) -> dict[str, object]:
    started = time.perf_counter()
    data, schema_file = drafted(name, folder, rows=rows)  # infer + README's edit, in process
    times = {"infer": time.perf_counter() - started}
    env = {**os.environ, "CLAIMLENS_SCHEMA": str(schema_file), "DATABASE_URL": f"sqlite:///{folder / 'own.db'}",
           "CLAIMLENS_MODEL_DIR": str(folder / "models"), "HF_HUB_OFFLINE": "1"}  # fmt: skip
    times["db upgrade"] = _run("db upgrade", ["db", "upgrade"], env)
    times["schema check"] = _run("schema check", ["schema", "check", str(data)], env)
    times["import"] = _run("import", ["import", str(data)], env)
    times["train quick"] = _run("train", ["train", "claim", "--profile", "quick"], env)
    times["score"] = _run("score", ["score", "--explain-limit", "0"], env)
    with sqlite3.connect(folder / "own.db") as db:
        (metrics,) = db.execute("SELECT metrics FROM model_versions WHERE task = 'claim_risk'").fetchone()
    report = json.loads(metrics)["report"]
    baselines = {k: v["roc_auc"] for k, v in report.items() if k.startswith("baseline_")}
    return {"layout": name, "rows": rows, "text": bool(INFER[name][3]), "times": times,
            "total_s": sum(times.values()), "roc_auc": report["model"]["roc_auc"], "baselines": baselines,
            "test_claims": report["model"]["count"]}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=3_000)
    parser.add_argument("--layouts", nargs="*", default=list(LAYOUTS))
    args = parser.parse_args()
    print(f"CPU flags: {cpu_flags()}")
    for name in args.layouts:
        with tempfile.TemporaryDirectory(prefix=f"own-{name}-") as folder:
            result = measure(name, args.rows, Path(folder))
        steps = ", ".join(f"{step} {seconds:.1f} s" for step, seconds in result["times"].items())  # type: ignore[attr-defined]
        baselines = ", ".join(f"{k} {v:.3f}" for k, v in result["baselines"].items())  # type: ignore[attr-defined]
        print(f"{name} ({args.rows:,} claims, text: {result['text']}): file to first scored claim "
              f"{result['total_s']:.0f} s ({steps}); test ROC-AUC {result['roc_auc']:.3f} on "
              f"{result['test_claims']} claims vs {baselines}")  # fmt: skip


if __name__ == "__main__":
    main()
