"""Scoring from the database into the database: chunks read inline vs on the read-ahead thread.

Builds a fresh SQLite database with `claimlens seed` and quick-profile champions, keeps it
as a template, then scores copies of it (claims and messages, no explanations) with the
next chunk claimed and tokenised inline, and on the read-ahead thread, alternating, in one
run. Prints rows per second of each and the ratio. `scoring.score` reads ahead on a GPU
only by default; this benchmark is how that choice is measured.

    .venv/bin/python -m benchmarks.bench_score_db [--claims 8000] [--device cpu|cuda] [--rounds 2] [--base-model PATH]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

MODES = ("inline", "read-ahead")


def claimlens(env: dict[str, str], *args: str) -> None:
    done = subprocess.run([sys.executable, "-m", "service", *args], env=env, capture_output=True, text=True)
    if done.returncode:
        sys.exit(f"claimlens {' '.join(args)} failed:\n{done.stderr[-3000:]}")


def build_template(folder: Path, claims: int, device: str, base_model: str | None) -> dict[str, str]:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "CLAIMLENS_DATABASE_URL": f"sqlite:///{folder / 'template.db'}",
           "CLAIMLENS_MODEL_DIR": str(folder / "models"), "CLAIMLENS_DEVICE": device}  # fmt: skip
    claimlens(env, "db", "upgrade")
    claimlens(env, "seed", "--claims", str(claims), "--scenario", "baseline")
    base = ["--base-model", base_model] if base_model else []
    for task in ("claim", "sentiment"):
        claimlens(env, "train", task, "--profile", "quick", *base)
    return env


def score_copy(folder: Path, mode: str, device: str) -> tuple[int, float]:
    """Score a fresh copy of the template in this process; (rows scored, seconds)."""
    from core import scoring
    from core.auth import cli_actor
    from db.session import get_sessionmaker, reset_caches

    reset_caches()  # closes the previous copy's connections before it is replaced
    for leftover in folder.glob("copy.db*"):  # the copy and its WAL files
        leftover.unlink()
    shutil.copy(folder / "template.db", folder / "copy.db")  # the CLI's last connection folded its WAL in
    os.environ["CLAIMLENS_DATABASE_URL"] = f"sqlite:///{folder / 'copy.db'}"
    result = scoring.score(
        get_sessionmaker(), actor=cli_actor(), explain_limit=0, device=device, read_ahead=mode == "read-ahead"
    )
    return result.claims + result.messages, result.seconds


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--claims", type=int, default=8000)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--base-model", default=None, help="encoder folder (default: the packaged MiniLM)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        env = build_template(folder, args.claims, args.device, args.base_model)
        os.environ.update({k: env[k] for k in ("HF_HUB_OFFLINE", "CLAIMLENS_MODEL_DIR", "CLAIMLENS_DEVICE")})
        score_copy(folder, "inline", args.device)  # warm-up: imports, model load paths, page cache
        rates: dict[str, list[float]] = {mode: [] for mode in MODES}
        for _ in range(args.rounds):
            for mode in MODES:
                rows, seconds = score_copy(folder, mode, args.device)
                rates[mode].append(rows / seconds)
    print(f"{args.claims} claims and their messages, {args.device}, SQLite, median of {args.rounds} rounds:")
    for mode in MODES:
        print(f"  {mode:>10}: {statistics.median(rates[mode]):,.0f} rows/s  (rounds: "
              f"{', '.join(f'{r:,.0f}' for r in rates[mode])})")  # fmt: skip
    ratio = statistics.median(rates["read-ahead"]) / statistics.median(rates["inline"])
    print(f"read-ahead / inline: {ratio:.2f}x")


if __name__ == "__main__":
    main()
