"""Does bf16 scoring change what the claim model says? ROC-AUC and probabilities of a
trained claim model in float32 and in bf16 on the same labelled, generated claims.

    .venv/bin/python -m benchmarks.bench_precision --model models/claim_risk/run-1 [--claims 5000]
"""

from __future__ import annotations

import argparse

import numpy as np
from sklearn.metrics import roc_auc_score

from benchmarks.common import at_precision
from core.data.generator import GeneratorConfig, generate
from core.modeling.inference import claim_probabilities
from core.modeling.models import load_model


def probabilities_at(precision: str, model: str, claims) -> np.ndarray:  # type: ignore[no-untyped-def]
    with at_precision(precision):
        return claim_probabilities(load_model(model, "cpu"), claims)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", required=True)
    parser.add_argument("--claims", type=int, default=5000)
    args = parser.parse_args()
    data = generate(GeneratorConfig(claims=args.claims, seed=2024))
    claims, labels = data.claims, data.claims["label_fraud"].astype(int).to_numpy(bool)
    fp32 = probabilities_at("fp32", args.model, claims)
    bf16 = probabilities_at("bf16", args.model, claims)
    change = np.abs(fp32 - bf16)
    auc32, auc16 = roc_auc_score(labels, fp32), roc_auc_score(labels, bf16)
    print(
        f"{args.claims} claims: ROC-AUC fp32 {auc32:.4f}, bf16 {auc16:.4f}; "
        f"largest probability change {change.max():.5f}, mean {change.mean():.6f}"
    )


if __name__ == "__main__":
    main()
