"""How long a new user waits: `make run` on a fresh clone, from start to a usable app.

Clones the repository's HEAD into a scratch folder, installs it there (timed on its own:
the target excludes the install), then times `make run` until the app answers and its
triage queue has flagged claims to work on, and then how long the worker takes in the
background to score every claim and explain every flagged one. With `--avx2` the run is
pinned to what an AVX2-only CPU without fast bf16 can do (float32 or int8 kernels, no
AMX/AVX-512), whatever this machine has: torch, oneDNN and MKL by their environment
variables, ONNX Runtime (which reads CPUID itself) by preloading `benchmarks/avx2only.c`.

    python -m benchmarks.bench_first_run --avx2 [--keep] [--background-timeout 1800]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# What an AVX2-only CPU can run: PyTorch's ATen kernels, oneDNN and MKL capped at AVX2,
# and no bf16 (the `auto` precision would pick bf16 on a CPU with AMX or AVX512-BF16).
AVX2_ONLY = {
    "ATEN_CPU_CAPABILITY": "avx2", "ONEDNN_MAX_CPU_ISA": "AVX2", "MKL_ENABLE_INSTRUCTIONS": "AVX2",
    "CLAIMLENS_INFERENCE_PRECISION": "fp32",  # what `auto` picks on a CPU without AMX or AVX512-BF16
}  # fmt: skip
CPU_FLAGS_OF_INTEREST = ("avx2", "avx512f", "avx512_bf16", "amx_bf16", "amx_int8", "avx_vnni", "avx512_vnni")


def cpu_flags() -> list[str]:
    flags = set()
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("flags"):
            flags.update(line.split(":", 1)[1].split())
            break
    return [flag for flag in CPU_FLAGS_OF_INTEREST if flag in flags]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def healthy(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


def counts(database: Path) -> dict[str, int]:
    """What the champions have scored and explained so far (zeros before the tables exist)."""
    if not database.is_file():
        return {}
    query = """
        SELECT
          (SELECT COUNT(*) FROM claims),
          (SELECT COUNT(*) FROM predictions p JOIN model_versions v ON v.id = p.model_version_id
             WHERE v.stage = 'champion' AND v.task = 'claim_risk'),
          (SELECT COUNT(*) FROM predictions p JOIN model_versions v ON v.id = p.model_version_id
             WHERE v.stage = 'champion' AND v.task = 'claim_risk' AND p.band IN ('high', 'medium')),
          (SELECT COUNT(*) FROM explanations e JOIN predictions p ON p.id = e.prediction_id
             JOIN model_versions v ON v.id = p.model_version_id WHERE v.stage = 'champion'),
          (SELECT COUNT(*) FROM messages),
          (SELECT COUNT(*) FROM message_predictions mp JOIN model_versions v ON v.id = mp.model_version_id
             WHERE v.stage = 'champion'),
          (SELECT COUNT(*) FROM users),
          (SELECT COUNT(*) FROM drift_reports)
    """
    try:
        with sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=5) as connection:
            row = connection.execute(query).fetchone()
    except sqlite3.Error:  # tables not there yet, or the file is mid-creation
        return {}
    keys = ("claims", "scored", "flagged", "explained", "messages", "messages_scored", "users", "drift_reports")
    return dict(zip(keys, row, strict=True))


def build_avx2only(folder: Path) -> Path:
    """Compile the CPUID filter that hides AVX-512, VNNI, AMX and BF16 from every library."""
    library = folder / "avx2only.so"
    source = ROOT / "benchmarks" / "avx2only.c"
    subprocess.run(["gcc", "-O2", "-shared", "-fPIC", "-o", str(library), str(source)], check=True)
    return library


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--avx2", action="store_true", help="Run as an AVX2-only CPU without bf16 would.")
    parser.add_argument("--usable-timeout", type=float, default=900, help="Give up waiting for the app after this.")
    parser.add_argument("--background-timeout", type=float, default=1800, help="Stop watching the worker after this.")
    parser.add_argument("--keep", action="store_true", help="Leave the scratch clone in place.")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "first_run.json")
    args = parser.parse_args()

    scratch = Path(tempfile.mkdtemp(prefix="claimlens-first-run-"))
    clone = scratch / "claimlens"
    subprocess.run(["git", "clone", "--quiet", str(ROOT), str(clone)], check=True)
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    for name in ("DATABASE_URL", "CLAIMLENS_DATABASE_URL", "CLAIMLENS_MODEL_DIR"):
        env.pop(name, None)
    if args.avx2:
        env.update(AVX2_ONLY)
    started = time.perf_counter()
    subprocess.run(["make", "install"], cwd=clone, env=env, check=True, stdout=subprocess.DEVNULL)
    install_s = time.perf_counter() - started
    if args.avx2:
        env["LD_PRELOAD"] = str(build_avx2only(scratch))

    port = free_port()
    log = (scratch / "make-run.log").open("w")
    started = time.perf_counter()
    run = subprocess.Popen(
        ["make", "run", f"PORT={port}"], cwd=clone, env=env, stdout=log, stderr=subprocess.STDOUT,
        start_new_session=True,
    )  # fmt: skip
    database = clone / "data" / "claimlens.db"
    result: dict[str, object] = {"cpu_flags": cpu_flags(), "avx2_only": args.avx2, "install_s": round(install_s, 1)}
    try:
        usable = None
        while time.perf_counter() - started < args.usable_timeout and run.poll() is None:
            seen = counts(database)
            if healthy(port) and seen.get("flagged", 0) > 0 and seen.get("users", 0) > 0:
                usable = time.perf_counter() - started
                break
            time.sleep(1)
        if usable is None:
            raise SystemExit(f"the app was not usable within {args.usable_timeout:.0f} s; see {scratch}/make-run.log")
        result["usable_s"] = round(usable, 1)
        result["at_usable"] = counts(database)
        print(f"app usable after {usable:.1f} s: {result['at_usable']}", flush=True)
        milestones: dict[str, float] = {}
        while time.perf_counter() - started < args.background_timeout and run.poll() is None:
            seen = counts(database)
            elapsed = round(time.perf_counter() - started, 1)
            if seen.get("scored") == seen.get("claims") and "claims_scored_s" not in milestones:
                milestones["claims_scored_s"] = elapsed
            if seen.get("messages_scored") == seen.get("messages") and "messages_scored_s" not in milestones:
                milestones["messages_scored_s"] = elapsed
            if seen.get("flagged") and seen.get("explained", 0) >= seen["flagged"] and "explained_s" not in milestones:
                milestones["explained_s"] = elapsed
            if seen.get("drift_reports") and "drift_s" not in milestones:
                milestones["drift_s"] = elapsed
            if len(milestones) == 4:
                break
            time.sleep(5)
        result["background"] = milestones
        result["at_end"] = counts(database)
    finally:
        os.killpg(run.pid, signal.SIGTERM)
        try:
            run.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(run.pid, signal.SIGKILL)
        log.close()
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=2))
        print(json.dumps(result, indent=2))
        if not args.keep:
            subprocess.run(["rm", "-rf", str(scratch)], check=False)
        else:
            print(f"kept {scratch}", file=sys.stderr)


if __name__ == "__main__":
    main()
