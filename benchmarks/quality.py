"""Model quality against the baseline and the oracle, on generated data (no database).

    .venv/bin/python benchmarks/quality.py --claims 20000 --profile full [--method full] [--device cuda]

Trains both models with the chosen profile on a time split of the `baseline` scenario and
prints the quality table (model vs TF-IDF + LR baseline vs the generator's oracle).
Writes the full report as JSON when --out is given.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from accelerate import Accelerator

from benchmarks.common import training_frames
from core.run_spec import TrainingConfig
from training import evaluation
from training.splits import time_split
from training.tasks import train_task


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--claims", type=int, default=20_000)
    parser.add_argument("--profile", default="full")
    parser.add_argument("--method", default=None)
    parser.add_argument("--base-model", default=None)
    parser.add_argument("--epochs", type=int, default=None)
    parser.add_argument("--batch-size", type=int, default=None)
    parser.add_argument("--encoder-lr", type=float, default=None)
    parser.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    parser.add_argument("--tasks", default="claim_risk,sentiment")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()

    accelerator = Accelerator(cpu=args.device == "cpu")
    claims, messages = training_frames(args.claims)
    results = {}
    for task in args.tasks.split(","):
        overrides = {"batch_size": args.batch_size, "encoder_learning_rate": args.encoder_lr, "epochs": args.epochs}
        config = TrainingConfig.for_profile(task, args.profile, args.method, base_model=args.base_model, **overrides)
        splits = time_split(claims if task == "claim_risk" else messages, config)
        started = time.perf_counter()
        trained = train_task(config, splits, accelerator=accelerator)
        seconds = time.perf_counter() - started
        if task == "claim_risk":
            report = evaluation.evaluate_claims(splits, trained.test_scores, trained.thresholds)
            keys = ("roc_auc", "pr_auc", "f1", "recall", "brier", "ece")
        else:
            report = evaluation.evaluate_sentiment(splits, trained.test_scores)
            keys = ("accuracy", "macro_f1")
        results[task] = {
            "config": config.to_dict(),
            "seconds": seconds,
            "report": report,
            "device": str(accelerator.device),
        }
        print(f"\n{task}: profile={config.profile} method={config.method} device={accelerator.device} "
              f"train rows={len(splits.train)} test rows={len(splits.test)} time={seconds:.0f}s")  # fmt: skip
        print("| | " + " | ".join(keys) + " |")
        print("| --- |" + " --- |" * len(keys))
        for name, values in report.items():
            if isinstance(values, dict) and "count" in values:
                print(f"| {name} | " + " | ".join(f"{values[k]:.3f}" for k in keys) + " |")
    if args.out:
        args.out.write_text(json.dumps(results, indent=2, default=str))


if __name__ == "__main__":
    main()
